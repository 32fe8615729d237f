// The token bucket's arithmetic under random use: the Lua script answers exactly as the TS code
// does, and however holders lease and whenever they spend their leases, no window of time sees
// more requests pass than `burst` plus what the rate refilled in it.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory-store.ts';
import { RedisStore } from '../../src/store/redis-store.ts';
import { takeFrom, type Bucket, type TokenRequest } from '../../src/store/token-bucket.ts';
import { TEST_REDIS_URL, uniqueName } from '../support/services.ts';

const T0 = 1_700_000_000_000;

interface Step {
  holder: number;
  /** ms after the previous step (negative: this caller's clock is behind). */
  advanceMs: number;
  wanted: number;
  /** Tokens kept this long; null: spent at once. */
  holdMs: number | null;
  /** When in its lease the holder spends what it was granted, as a share of the lease. */
  spendAt: number;
}

const step = (allowBehind: boolean): fc.Arbitrary<Step> =>
  fc.record({
    holder: fc.integer({ min: 0, max: 2 }),
    advanceMs: allowBehind ? fc.integer({ min: -80, max: 300 }) : fc.integer({ min: 0, max: 300 }),
    wanted: fc.integer({ min: 1, max: 8 }),
    holdMs: fc.option(fc.integer({ min: 0, max: 400 }), { nil: null }),
    spendAt: fc.double({ min: 0, max: 0.999, noNaN: true }),
  });

const limit = fc.record({ ratePerSecond: fc.constantFrom(1, 4, 10, 33.3, 100), burst: fc.integer({ min: 1, max: 12 }) });

function requestsOf(steps: Step[], ratePerSecond: number, burst: number, key: string): TokenRequest[] {
  let now = T0;
  return steps.map((s) => {
    now += s.advanceMs;
    return { key, ratePerSecond, burst, nowMs: now, wanted: s.wanted, holder: `node-${s.holder}`, ...(s.holdMs === null ? {} : { holdUntilMs: now + s.holdMs }) };
  });
}

describe('token buckets under random use', () => {
  const redis = new RedisStore({ url: TEST_REDIS_URL, keyPrefix: `${uniqueName('buckets')}:` });

  afterAll(async () => {
    await redis.close();
  });

  it('answer alike in Redis and in memory, clocks disagreeing included', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(limit, fc.array(step(true), { minLength: 1, maxLength: 30 }), async ({ ratePerSecond, burst }, steps) => {
        const key = `aff:${run++}`;
        const memory = new MemoryStore();
        for (const request of requestsOf(steps, ratePerSecond, burst, key)) {
          expect(await redis.takeTokens(request)).toEqual(await memory.takeTokens(request));
        }
      }),
      { numRuns: 60 },
    );
  });

  it('never let more through in any window than burst plus the refill, however leases are spent', () => {
    fc.assert(
      fc.property(limit, fc.array(step(false), { minLength: 1, maxLength: 40 }), ({ ratePerSecond, burst }, steps) => {
        const requests = requestsOf(steps, ratePerSecond, burst, 'aff:x');
        let bucket: Bucket | undefined;
        const spends: number[] = [];
        requests.forEach((request, i) => {
          const result = takeFrom(bucket, request);
          bucket = result.bucket;
          if (result.lease.granted === 0) return;
          // A lease ends at its hold time or when its holder asks again, whichever comes first;
          // the holder spends its tokens some time before that (all at once: the worst case).
          const next = requests.slice(i + 1).find((r) => r.holder === request.holder)?.nowMs ?? Infinity;
          const end = request.holdUntilMs === undefined ? request.nowMs : Math.min(request.holdUntilMs, next);
          const at = request.nowMs + (end - request.nowMs) * steps[i]!.spendAt;
          for (let n = 0; n < result.lease.granted; n++) spends.push(at);
        });
        spends.sort((a, b) => a - b);
        for (let first = 0; first < spends.length; first++) {
          for (let last = first; last < spends.length; last++) {
            const allowed = burst + ((spends[last]! - spends[first]!) * ratePerSecond) / 1000;
            expect(last - first + 1).toBeLessThanOrEqual(allowed + 1e-9);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
