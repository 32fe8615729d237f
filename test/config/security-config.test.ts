// The security settings are read like every other: once, with an error naming the variable.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { configuredRateLimit } from '../../src/http/rate-limit.ts';

const b64 = (bytes: number) => randomBytes(bytes).toString('base64');

function problems(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected the configuration to be refused');
}

describe('PII_KEYS and PII_KEY_ID', () => {
  it('read several keys, base64 or base64url, padded or not, with the active one named', () => {
    const keys = [randomBytes(32), randomBytes(32), randomBytes(32)];
    const config = loadConfig({
      PII_KEYS: `old:${keys[0]!.toString('base64')}, new:${keys[1]!.toString('base64url')},bare:${keys[2]!.toString('base64').replace(/=+$/, '')}`,
      PII_KEY_ID: 'new',
    });
    expect(config.PII_KEYS).toEqual([{ id: 'old', key: keys[0] }, { id: 'new', key: keys[1] }, { id: 'bare', key: keys[2] }]);
    expect(config.PII_KEY_ID).toBe('new');
  });

  it('one key needs no PII_KEY_ID; none at all is allowed (a development key is used)', () => {
    expect(loadConfig({ PII_KEYS: `only:${b64(32)}` }).PII_KEY_ID).toBeUndefined();
    expect(loadConfig({}).PII_KEYS).toBeUndefined();
    expect(loadConfig({ PII_KEYS: '  ' }).PII_KEYS).toBeUndefined();
  });

  it('a key of the wrong length names the variable, the key and the lengths, never the key itself', () => {
    const short = b64(16);
    const message = problems({ PII_KEYS: `k1:${short}` });
    expect(message).toContain('PII_KEYS');
    expect(message).toContain('key "k1" must be 32 bytes (AES-256), got 16');
    expect(message).not.toContain(short);
  });

  it('refuses junk, a missing id, a duplicate id, and an active id that is not listed', () => {
    expect(problems({ PII_KEYS: 'k1:%%%%' })).toMatch(/PII_KEYS: key "k1" is not base64/);
    expect(problems({ PII_KEYS: b64(32) })).toMatch(/PII_KEYS: entry 1 must be written <id>:<base64 of 32 bytes>/);
    expect(problems({ PII_KEYS: `a:${b64(32)},a:${b64(32)}`, PII_KEY_ID: 'a' })).toMatch(/PII_KEYS: key "a" is listed twice/);
    expect(problems({ PII_KEYS: `a:${b64(32)}`, PII_KEY_ID: 'b' })).toMatch(/PII_KEY_ID: must be one of the ids in PII_KEYS \(a\)/);
    expect(problems({ PII_KEYS: `a:${b64(32)},b:${b64(32)}` })).toMatch(/PII_KEY_ID: is required when PII_KEYS lists several keys/);
    expect(problems({ PII_KEY_ID: 'a' })).toMatch(/PII_KEY_ID: is set but PII_KEYS is not/);
  });
});

describe('AFFILIATE_RATE_PER_S and AFFILIATE_RATE_BURST', () => {
  it('default to a limit, with a burst of two seconds\' worth', () => {
    expect(configuredRateLimit(loadConfig({}))).toEqual({ perSecond: 1000, burst: 2000 });
    expect(configuredRateLimit(loadConfig({ AFFILIATE_RATE_PER_S: '2.5' }))).toEqual({ perSecond: 2.5, burst: 5 });
    expect(configuredRateLimit(loadConfig({ AFFILIATE_RATE_PER_S: '10', AFFILIATE_RATE_BURST: '3' }))).toEqual({ perSecond: 10, burst: 3 });
  });

  it('0 turns the default limit off', () => {
    expect(configuredRateLimit(loadConfig({ AFFILIATE_RATE_PER_S: '0' }))).toBeNull();
  });

  it('refuse what cannot be a rate or a burst, naming the variable', () => {
    expect(problems({ AFFILIATE_RATE_PER_S: '-1' })).toContain('AFFILIATE_RATE_PER_S');
    expect(problems({ AFFILIATE_RATE_PER_S: 'fast' })).toContain('AFFILIATE_RATE_PER_S');
    expect(problems({ AFFILIATE_RATE_BURST: '0' })).toContain('AFFILIATE_RATE_BURST');
    expect(problems({ AFFILIATE_RATE_BURST: '1.5' })).toContain('AFFILIATE_RATE_BURST');
  });
});
