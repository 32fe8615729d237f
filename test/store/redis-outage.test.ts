// A Redis outage (a server of this test's own, killed and started again): the store waits out a
// blip once, then fails every call at once with 503 until Redis is back, and then just works.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceUnavailable } from '../../src/errors/problems.ts';
import { RedisStore } from '../../src/store/redis-store.ts';
import { startOwnRedis, type OwnService } from '../support/own-services.ts';
import { waitFor } from '../support/traffic.ts';

let redis: OwnService;
let store: RedisStore;

beforeAll(async () => {
  redis = await startOwnRedis();
  store = new RedisStore({ url: redis.url, keyPrefix: 'outage:', commandTimeoutMs: 1000 });
  await store.ping();
});

afterAll(async () => {
  await store?.close();
  await redis?.destroy();
});

async function timed(call: () => Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = performance.now();
  try {
    await call();
    return { ms: performance.now() - started, error: null };
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
}

describe('RedisStore during an outage', () => {
  it('fails within one timeout, then at once, and recovers by itself', async () => {
    await redis.stop();

    const first = await timed(() => store.readCounters(['a']));
    expect(first.error).toBeInstanceOf(ServiceUnavailable);
    expect(first.ms).toBeLessThan(1500);

    // The outage is known now: nobody waits for the timeout again.
    for (let i = 0; i < 5; i++) {
      const next = await timed(() => store.reserve([{ id: `rs_${i}`, counters: [{ key: 'a', amount: 1, limit: 10, ttlSeconds: 60 }], expiresAt: Date.now() + 60_000 }]));
      expect(next.error).toBeInstanceOf(ServiceUnavailable);
      expect(next.ms).toBeLessThan(100);
    }

    await redis.start();
    await waitFor(async () => (await timed(() => store.ping())).error === null, 10_000, 'the store to reconnect');
    expect(await store.readCounters(['a'])).toEqual([0]);
  }, 30_000);
});
