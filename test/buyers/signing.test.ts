import { createHmac, createSecretKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signBody, verifySignature } from '../../src/buyers/signing.ts';

const secret = 'whsec_test';
const body = '{"ping_id":"pg_1","bid":21}';

describe('signing', () => {
  it('produces v1=<hex HMAC-SHA256 of "<timestamp>.<body>">', () => {
    const expected = createHmac('sha256', secret).update(`1700000000.${body}`).digest('hex');
    expect(signBody(secret, '1700000000', body)).toBe(`v1=${expected}`);
  });

  it('signs strings and their UTF-8 bytes identically', () => {
    const text = '{"name":"Zoë ☃"}';
    expect(signBody(secret, '1', Buffer.from(text))).toBe(signBody(secret, '1', text));
  });

  it('signs alike with the secret as text or as a key object of its UTF-8 bytes', () => {
    const text = 'whsec_ünïcode';
    expect(signBody(createSecretKey(Buffer.from(text, 'utf8')), '1', body)).toBe(signBody(text, '1', body));
  });

  it('verifies a fresh signature', () => {
    const now = Date.now();
    const ts = String(Math.floor(now / 1000));
    expect(verifySignature(secret, ts, body, signBody(secret, ts, body), { nowMs: now })).toBe(true);
    expect(verifySignature(secret, ts, Buffer.from(body), signBody(secret, ts, body))).toBe(true);
  });

  it('rejects a tampered body, a wrong secret and a tampered timestamp', () => {
    const ts = String(Math.floor(Date.now() / 1000));
    const sig = signBody(secret, ts, body);
    expect(verifySignature(secret, ts, body.replace('21', '22'), sig)).toBe(false);
    expect(verifySignature('other', ts, body, sig)).toBe(false);
    expect(verifySignature(secret, String(Number(ts) - 1), body, sig)).toBe(false);
  });

  it('rejects stale and future timestamps beyond the tolerance', () => {
    const now = 1_700_000_000_000;
    const old = String(now / 1000 - 301);
    expect(verifySignature(secret, old, body, signBody(secret, old, body), { nowMs: now })).toBe(false);
    const future = String(now / 1000 + 301);
    expect(verifySignature(secret, future, body, signBody(secret, future, body), { nowMs: now })).toBe(false);
    const edge = String(now / 1000 - 300);
    expect(verifySignature(secret, edge, body, signBody(secret, edge, body), { nowMs: now })).toBe(true);
    expect(verifySignature(secret, old, body, signBody(secret, old, body), { nowMs: now, toleranceSeconds: 600 })).toBe(true);
  });

  it('rejects malformed headers and timestamps without throwing', () => {
    const ts = String(Math.floor(Date.now() / 1000));
    const sig = signBody(secret, ts, body);
    expect(verifySignature(secret, ts, body, '')).toBe(false);
    expect(verifySignature(secret, ts, body, sig.slice(3))).toBe(false);
    expect(verifySignature(secret, ts, body, sig.slice(0, -2))).toBe(false);
    expect(verifySignature(secret, ts, body, 'v1=zz')).toBe(false);
    expect(verifySignature(secret, 'abc', body, sig)).toBe(false);
    expect(verifySignature(secret, `${ts}.5`, body, sig)).toBe(false);
  });

  it('accepts any of several comma-separated signatures (secret rotation)', () => {
    const ts = String(Math.floor(Date.now() / 1000));
    const header = `${signBody('old-secret', ts, body)}, ${signBody(secret, ts, body)}`;
    expect(verifySignature(secret, ts, body, header)).toBe(true);
  });
});
