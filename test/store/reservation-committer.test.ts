// A recorded sale's caps stay counted even when Redis is down at the moment of the commit: the
// commit lands once Redis is back, before the sweeper could give the caps back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../src/store/redis-store.ts';
import { ReservationCommitter } from '../../src/store/reservation-committer.ts';
import { startOwnRedis, type OwnService } from '../support/own-services.ts';

describe('committing reservations through a Redis outage', () => {
  let redis: OwnService;
  let store: RedisStore;

  beforeAll(async () => {
    // Durable, as a production Redis holding caps: a crash keeps what it acknowledged.
    redis = await startOwnRedis({ durable: true });
    store = new RedisStore({ url: redis.url, keyPrefix: 'commit:' });
  });

  afterAll(async () => {
    await store?.close();
    await redis?.destroy();
  });

  const reserveOne = async (id: string) => {
    const [outcome] = await store.reserve([{ id, counters: [{ key: 'cap:day', amount: 1, limit: 100, ttlSeconds: 3600 }], expiresAt: Date.now() + 60_000 }]);
    expect(outcome!.ok).toBe(true);
  };

  it('commits at once when Redis answers', async () => {
    const committer = new ReservationCommitter(store);
    await reserveOne('rs_now');

    await committer.commit(['rs_now']);

    expect(committer.pending).toBe(0);
    // Committed means the sweeper has nothing to give back, whatever the time.
    expect(await store.releaseExpired(Date.now() + 3_600_000, 100)).toEqual([]);
    expect(await store.readCounters(['cap:day'])).toEqual([1]);
  });

  it('drain() at shutdown first waits for the commits still under way that it was given to track', async () => {
    const committer = new ReservationCommitter(store);
    await store.reserve([{ id: 'rs_tracked', counters: [{ key: 'cap:tracked', amount: 1, limit: 100, ttlSeconds: 3600 }], expiresAt: Date.now() + 60_000 }]);
    let letGo!: () => void;
    const gate = new Promise<void>((resolve) => (letGo = resolve));
    committer.track(gate.then(() => store.commit(['rs_tracked'])));

    let drained: boolean | undefined;
    const draining = committer.drain(5000).then((result) => (drained = result));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(drained).toBeUndefined();

    letGo();
    expect(await draining).toBe(true);
    expect(await store.releaseExpired(Date.now() + 3_600_000, 100)).toEqual([]);
  });

  it('keeps a commit Redis could not take, and lands it once Redis is back', async () => {
    const errors: unknown[] = [];
    const committer = new ReservationCommitter(store, { retryMs: 50, maxRetryMs: 200, onError: (error) => errors.push(error) });
    await reserveOne('rs_outage');

    await redis.stop();
    const started = Date.now();
    await committer.commit(['rs_outage']);
    // The answer to the affiliate does not wait for Redis to return.
    expect(Date.now() - started).toBeLessThan(2000);
    expect(committer.pending).toBe(1);
    expect(errors.length).toBeGreaterThan(0);

    await redis.start();
    const deadline = Date.now() + 10_000;
    while (committer.pending > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));

    expect(committer.pending).toBe(0);
    expect(await store.releaseExpired(Date.now() + 3_600_000, 100)).toEqual([]);
    expect(await store.readCounters(['cap:day'])).toEqual([2]);
  });

  it('drain() at shutdown reports what could not be committed', async () => {
    const committer = new ReservationCommitter(store, { retryMs: 50 });
    await reserveOne('rs_never');
    await redis.stop();
    await committer.commit(['rs_never']);

    expect(await committer.drain(300)).toBe(false);
    expect(committer.pending).toBe(1);

    await redis.start();
    expect(await committer.drain(5000)).toBe(true);
    expect(committer.pending).toBe(0);
  });
});
