// The hot path's pooled random bytes: fresh every time, and never changed once handed out.
import { describe, expect, it } from 'vitest';
import { pooledRandomBytes, pooledRandomHex } from '../../src/ids/random-pool.ts';

describe('the random pool', () => {
  it('never hands out the same bytes twice, across many refills', () => {
    // 12-byte values as AES-GCM IVs use them: 20 000 of them span about 60 pools.
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) seen.add(pooledRandomBytes(12).toString('hex'));
    expect(seen.size).toBe(20_000);
  });

  it('leaves what it handed out as it was when the pool is drawn again', () => {
    const first = pooledRandomBytes(16);
    const copy = Buffer.from(first);
    for (let i = 0; i < 1000; i++) pooledRandomBytes(16);
    expect(first.equals(copy)).toBe(true);
  });

  it('gives hex of twice the length, and refuses sizes it cannot give', () => {
    expect(pooledRandomHex(16)).toMatch(/^[0-9a-f]{32}$/);
    expect(() => pooledRandomBytes(0)).toThrow(RangeError);
    expect(() => pooledRandomBytes(4097)).toThrow(RangeError);
    expect(() => pooledRandomHex(1.5)).toThrow(RangeError);
  });
});
