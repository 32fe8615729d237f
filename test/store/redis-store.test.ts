import net from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ServiceUnavailable } from '../../src/errors/problems.ts';
import { RedisStore } from '../../src/store/redis-store.ts';
import { forgetRedisPrefix, TEST_REDIS_URL, uniqueName } from '../support/services.ts';
import { counter, describeStoreContract, request, sleep } from './store-contract.ts';

const prefixes: string[] = [];
const stores: RedisStore[] = [];
let admin: Redis;

function newPrefix(): string {
  const prefix = `${uniqueName('store')}:`;
  prefixes.push(prefix);
  return prefix;
}

function newStore(options: { keyPrefix?: string; url?: string; commandTimeoutMs?: number } = {}): RedisStore {
  const store = new RedisStore({ url: TEST_REDIS_URL, keyPrefix: newPrefix(), ...options });
  stores.push(store);
  return store;
}

/** Milliseconds until `promise` settles (either way). */
async function timeToSettle(promise: Promise<unknown>): Promise<number> {
  const started = performance.now();
  await promise.catch(() => {});
  return performance.now() - started;
}

beforeAll(() => {
  admin = new Redis(TEST_REDIS_URL);
});

afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

afterAll(async () => {
  for (const prefix of prefixes) await forgetRedisPrefix(prefix);
  admin.disconnect();
});

describeStoreContract('redis', () => new RedisStore({ url: TEST_REDIS_URL, keyPrefix: newPrefix() }));

describe('RedisStore', () => {
  it('keeps everything under its prefix, in the documented layout', async () => {
    const prefix = newPrefix();
    const store = newStore({ keyPrefix: prefix });
    await store.reserve([request('r1', [counter('leads', 2, 10, 120), counter('spend', 700, null, 3600)], 1234)]);
    await store.putHold('h1', { payload: 'p', reservationIds: ['r1'] }, 60_000);
    await store.acquireLock('job', 60_000);

    expect(await admin.get(`${prefix}ctr:leads`)).toBe('2');
    // Stored with full names: that is what release decrements, whatever the store's prefix.
    expect(await admin.hgetall(`${prefix}res:r1`)).toEqual({ [`${prefix}ctr:leads`]: '2', [`${prefix}ctr:spend`]: '700' });
    expect(await admin.zrange(`${prefix}res:expiry`, 0, -1, 'WITHSCORES')).toEqual(['r1', '1234']);
    expect(await admin.hgetall(`${prefix}hold:h1`)).toEqual({ payload: 'p', reservations: '["r1"]', claimed: '0' });
    expect(await admin.exists(`${prefix}lock:job`)).toBe(1);
    expect(await admin.exists('ctr:leads', 'res:r1', 'hold:h1', 'lock:job')).toBe(0);
  });

  it('builds the names of an auction under its prefix too: locks, reads, writes, commits and holds', async () => {
    const prefix = newPrefix();
    const store = newStore({ keyPrefix: prefix });
    await admin.set(`${prefix}ctr:sent:a`, 'seen');
    const start = await store.beginAuction(['consumer:a', 'consumer:b'], 60_000, ['sent:a', 'bought:a']);
    expect(start).toMatchObject({ locked: true, values: ['seen', null] });
    if (!start.locked) throw new Error('unreachable');
    expect(await admin.get(`${prefix}lock:consumer:a`)).toBe(start.token);
    expect(await admin.get(`${prefix}lock:consumer:b`)).toBe(start.token);

    await store.reserve([request('r1', [counter('cap:day', 1, 10, 120)], 1234)]);
    const ended = await store.endAuction({
      lockKeys: ['consumer:a', 'consumer:b'],
      token: start.token,
      // Keys and values travel as they are: quotes, newlines and non-ASCII arrive unchanged.
      writes: [{ key: 'bought:"a"\n', value: 'by_1 é', ttlSeconds: 60 }],
      commitIds: ['r1'],
      hold: { id: 'h1', record: { payload: 'p', reservationIds: ['r1'] }, ttlMs: 60_000 },
    });
    expect(ended).toBe(true);
    expect(await admin.get(`${prefix}ctr:bought:"a"\n`)).toBe('by_1 é');
    expect(await admin.exists(`${prefix}lock:consumer:a`, `${prefix}lock:consumer:b`, `${prefix}res:r1`)).toBe(0);
    expect(await admin.zrange(`${prefix}res:expiry`, 0, -1)).toEqual([]);
    expect(await admin.hget(`${prefix}hold:h1`, 'payload')).toBe('p');

    const claim = await store.claimHold('h1', 5_000, { lockKeys: ['consumer:a'], lockTtlMs: 60_000, readKeys: ['sent:a'] });
    expect(claim).toMatchObject({ state: 'claimed', start: { locked: true, values: ['seen'] } });
    expect(await admin.exists(`${prefix}lock:consumer:a`)).toBe(1);
    expect(await admin.exists('lock:consumer:a', 'ctr:sent:a', 'hold:h1', 'res:expiry')).toBe(0);
  });

  it('keeps a consumer\'s history as a hash under its prefix, with the longest TTL its writes asked for', async () => {
    const prefix = newPrefix();
    const store = newStore({ keyPrefix: prefix });
    await store.endAuction({
      lockKeys: [],
      token: 'none',
      fieldWrites: [
        { key: 'history:h', field: 'sent:a:v', value: '1|ld_1', ttlSeconds: 600 },
        { key: 'history:h', field: 'bought:"b"\n', value: '2|é', ttlSeconds: 3600 },
      ],
    });
    await store.endAuction({ lockKeys: [], token: 'none', fieldWrites: [{ key: 'history:h', field: 'excl:v', value: '3|b', ttlSeconds: 60 }] });

    expect(await admin.hgetall(`${prefix}ctr:history:h`)).toEqual({ 'sent:a:v': '1|ld_1', 'bought:"b"\n': '2|é', 'excl:v': '3|b' });
    const ttl = await admin.ttl(`${prefix}ctr:history:h`);
    expect(ttl).toBeGreaterThan(3590);
    expect(ttl).toBeLessThanOrEqual(3600);
    expect(await admin.exists('ctr:history:h')).toBe(0);
  });

  it('regroups only its own values, found under its prefix, and remembers that it did', async () => {
    const prefix = newPrefix();
    const neighbour = newPrefix();
    const store = newStore({ keyPrefix: prefix });
    await admin.set(`${prefix}ctr:bought:b1:h`, '1|', 'EX', 600);
    await admin.set(`${neighbour}ctr:bought:b1:h`, 'theirs', 'EX', 600);
    // A name SCAN would read as a pattern must match only itself.
    const odd = newPrefix().replace(':', '*[?]:');
    prefixes.push(odd);
    const oddStore = newStore({ keyPrefix: odd });
    await admin.set(`${odd}ctr:bought:b2:h`, '2|', 'EX', 600);

    expect(await store.regroupValues(['bought'], 'history')).toBe(1);
    expect(await oddStore.regroupValues(['bought'], 'history')).toBe(1);

    expect(await admin.hgetall(`${prefix}ctr:history:h`)).toEqual({ 'bought:b1': '1|' });
    expect(await admin.ttl(`${prefix}ctr:history:h`)).toBeGreaterThan(590);
    expect(await admin.exists(`${prefix}ctr:bought:b1:h`)).toBe(0);
    expect(await admin.get(`${neighbour}ctr:bought:b1:h`)).toBe('theirs');
    expect(await admin.hgetall(`${odd}ctr:history:h`)).toEqual({ 'bought:b2': '2|' });
    expect(await admin.get(`${prefix}regrouped:history`)).toBe('1');
  });

  it('takes keys as they are, whatever they hold: a newline is part of its key, not a split', async () => {
    const prefix = newPrefix();
    const store = newStore({ keyPrefix: prefix });
    await admin.set(`${prefix}ctr:sent:a\nsent:b`, 'one key');
    const start = await store.beginAuction(['consumer:a\nconsumer:b', 'consumer:é'], 60_000, ['sent:a\nsent:b', 'sent:a', '\n']);
    expect(start).toMatchObject({ locked: true, values: ['one key', null, null] });
    if (!start.locked) throw new Error('unreachable');
    expect((await admin.keys(`${prefix}lock:*`)).sort()).toEqual([`${prefix}lock:consumer:a\nconsumer:b`, `${prefix}lock:consumer:é`]);
    await store.putHold('h1', { payload: 'p', reservationIds: [] }, 60_000);
    // Held by the auction above, so the claim takes no lock; the hold is still claimed.
    expect(await store.claimHold('h1', 5_000, { lockKeys: ['consumer:é'], lockTtlMs: 60_000, readKeys: [] })).toMatchObject({ state: 'claimed', start: { locked: false } });
    expect(await store.endAuction({ lockKeys: ['consumer:a\nconsumer:b', 'consumer:é'], token: start.token })).toBe(true);
    expect(await admin.keys(`${prefix}lock:*`)).toEqual([]);
  });

  it('sets TTLs on counters, holds and locks, and none on reservation records', async () => {
    const prefix = newPrefix();
    const store = newStore({ keyPrefix: prefix });
    await store.reserve([request('r1', [counter('leads', 1, 10, 120)])]);
    await store.putHold('h1', { payload: 'p', reservationIds: [] }, 30_000);
    await store.acquireLock('job', 20_000);
    const counterTtl = await admin.pttl(`${prefix}ctr:leads`);
    expect(counterTtl).toBeGreaterThan(119_000);
    expect(counterTtl).toBeLessThanOrEqual(120_000);
    expect(await admin.pttl(`${prefix}hold:h1`)).toBeGreaterThan(29_000);
    expect(await admin.pttl(`${prefix}lock:job`)).toBeGreaterThan(19_000);
    // A record outliving nothing: the sweeper, not a TTL, is what ends an abandoned reservation.
    expect(await admin.pttl(`${prefix}res:r1`)).toBe(-1);
    // A claim keeps the hold's TTL (it must stay readable as claimed, then go).
    await store.claimHold('h1', 0);
    expect(await admin.pttl(`${prefix}hold:h1`)).toBeGreaterThan(29_000);
  });

  it('stores with different prefixes do not see each other', async () => {
    const a = newStore();
    const b = newStore();
    await a.reserve([request('r1', [counter('leads', 3, 3)], 1)]);
    await a.putHold('h1', { payload: 'p', reservationIds: [] }, 60_000);
    await a.acquireLock('job', 60_000);

    expect(await b.readCounters(['leads'])).toEqual([0]);
    expect(await b.reserve([request('r1', [counter('leads', 3, 3)], 1)])).toEqual([{ id: 'r1', ok: true, values: expect.any(Array) }]);
    expect(await b.claimHold('h1', 0)).toEqual({ state: 'missing' });
    expect(await b.acquireLock('job', 60_000)).not.toBeNull();

    expect(await b.releaseExpired(10, 10)).toEqual(['r1']);
    expect(await b.readCounters(['leads'])).toEqual([0]);
    expect(await a.readCounters(['leads'])).toEqual([3]);
    expect(await a.releaseExpired(10, 10)).toEqual(['r1']);
    expect(await a.readCounters(['leads'])).toEqual([0]);
  });

  it('two connections on the same prefix racing one limit let exactly the limit through', async () => {
    const prefix = newPrefix();
    const a = newStore({ keyPrefix: prefix });
    const b = newStore({ keyPrefix: prefix });
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? a : b).reserve([request(`c${i}`, [counter('cap', 1, 37)])])),
    );
    expect(outcomes.flat().filter((o) => o.ok)).toHaveLength(37);
    expect(await a.readCounters(['cap'])).toEqual([37]);
    expect(await b.readCounters(['cap'])).toEqual([37]);
    // Either node can release what the other reserved.
    const first = outcomes.flat().find((o) => o.ok)!;
    expect(await b.release([first.id])).toBe(1);
    expect(await a.readCounters(['cap'])).toEqual([36]);
  });

  it('keeps a token bucket under bucket:<key>, expiring once it would be full again anyway', async () => {
    const prefix = newPrefix();
    const store = newStore({ keyPrefix: prefix });
    await store.takeTokens({ key: 'affiliate:af_1', ratePerSecond: 2, burst: 10, nowMs: 1_000, wanted: 1, holder: 'n1' });
    expect(await admin.hgetall(`${prefix}bucket:affiliate:af_1`)).toEqual({ tokens: '9', at: '1000' });
    // 10 tokens at 2/s refill in 5 s; a second more of margin.
    const ttl = await admin.pttl(`${prefix}bucket:affiliate:af_1`);
    expect(ttl).toBeGreaterThan(5_000);
    expect(ttl).toBeLessThanOrEqual(6_000);
    // A lease is one field per holder, and the bucket outlives it.
    await store.takeTokens({ key: 'affiliate:af_1', ratePerSecond: 2, burst: 10, nowMs: 1_000, wanted: 3, holder: 'n2', holdUntilMs: 3_500 });
    expect(await admin.hgetall(`${prefix}bucket:affiliate:af_1`)).toEqual({ tokens: '6', at: '1000', 'h:n2': '3500:3' });
    expect(await admin.pttl(`${prefix}bucket:affiliate:af_1`)).toBeGreaterThan(8_000);
    await store.takeTokens({ key: 'affiliate:af_1', ratePerSecond: 2, burst: 10, nowMs: 1_000, wanted: 1, holder: 'n2' });
    expect(await admin.hgetall(`${prefix}bucket:affiliate:af_1`)).toEqual({ tokens: '5', at: '1000' });
  });

  it('two connections on the same prefix share one token bucket', async () => {
    const prefix = newPrefix();
    const a = newStore({ keyPrefix: prefix });
    const b = newStore({ keyPrefix: prefix });
    const grants = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).takeTokens({ key: 'affiliate:af_1', ratePerSecond: 1, burst: 7, nowMs: 1_000, wanted: 2, holder: i % 2 === 0 ? 'a' : 'b', holdUntilMs: 1_250 })),
    );
    expect(grants.reduce((sum, g) => sum + g.granted, 0)).toBe(7);
  });

  it('two connections claiming one hold: exactly one wins', async () => {
    const prefix = newPrefix();
    const a = newStore({ keyPrefix: prefix });
    const b = newStore({ keyPrefix: prefix });
    await a.putHold('h1', { payload: 'p', reservationIds: [] }, 60_000);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).claimHold('h1', 0)));
    expect(results.filter((r) => r.state === 'claimed')).toHaveLength(1);
  });

  it('runs its scripts again after Redis forgot them (SCRIPT FLUSH, or a restart)', async () => {
    const store = newStore();
    await store.reserve([request('before', [counter('leads', 1, 10)])]);
    await admin.script('FLUSH');
    expect(await store.reserve([request('after', [counter('leads', 1, 10)])])).toEqual([{ id: 'after', ok: true, values: [2] }]);
    expect(await store.readCounters(['leads'])).toEqual([2]);
  });

  describe('when Redis cannot be reached', () => {
    it('ping and reserve reject within 2 s instead of hanging', async () => {
      const store = newStore({ url: 'redis://127.0.0.1:1' });
      const ping = store.ping();
      const reserve = store.reserve([request('r1', [counter('leads', 1, 10)])]);
      await expect(ping).rejects.toBeInstanceOf(ServiceUnavailable);
      await expect(reserve).rejects.toThrow(/Redis unavailable/);
      expect(await timeToSettle(store.ping())).toBeLessThan(2_000);
      expect(await timeToSettle(store.readCounters(['leads']))).toBeLessThan(2_000);
      expect(await timeToSettle(store.claimHold('h1', 0))).toBeLessThan(2_000);
    });

    it('fails fast during an outage, does not replay what failed, and recovers by itself', async () => {
      const proxy = await startProxy();
      try {
        const prefix = newPrefix();
        const store = newStore({ url: `redis://127.0.0.1:${proxy.port}`, keyPrefix: prefix });
        await store.reserve([request('before', [counter('leads', 1, 10)])]);

        await proxy.stop();
        const during = store.reserve([request('during', [counter('leads', 1, 10)])]);
        await expect(during).rejects.toBeInstanceOf(ServiceUnavailable);
        expect(await timeToSettle(store.reserve([request('during2', [counter('leads', 1, 10)])]))).toBeLessThan(1_500);
        expect(await timeToSettle(store.ping())).toBeLessThan(1_500);

        await proxy.start();
        await expect
          .poll(() => store.ping().then(() => true, () => false), { timeout: 5_000, interval: 100 })
          .toBe(true);
        // What the caller saw fail did not happen behind its back once Redis returned.
        expect(await store.readCounters(['leads'])).toEqual([1]);
        expect(await store.reserve([request('after', [counter('leads', 1, 10)])])).toEqual([{ id: 'after', ok: true, values: expect.any(Array) }]);
        expect(await store.readCounters(['leads'])).toEqual([2]);
      } finally {
        await proxy.stop();
      }
    });

    it('a reserve that timed out is not run later when Redis comes back quickly', async () => {
      const proxy = await startProxy();
      try {
        const store = newStore({ url: `redis://127.0.0.1:${proxy.port}`, commandTimeoutMs: 50 });
        await expect.poll(() => store.ping().then(() => true, () => false), { timeout: 5_000, interval: 20 }).toBe(true);

        await proxy.stop();
        await expect(store.reserve([request('lost', [counter('leads', 1, 10)])])).rejects.toBeInstanceOf(ServiceUnavailable);
        // Back before the client gives up on reconnecting: a queued command would be replayed now.
        await proxy.start();
        await expect.poll(() => store.ping().then(() => true, () => false), { timeout: 5_000, interval: 20 }).toBe(true);
        await sleep(100);
        expect(await store.readCounters(['leads'])).toEqual([0]);
        expect(await store.release(['lost'])).toBe(0);
      } finally {
        await proxy.stop();
      }
    });

    it('a script Redis leaves unanswered fails within the command timeout', async () => {
      const proxy = await startProxy();
      try {
        const store = newStore({ url: `redis://127.0.0.1:${proxy.port}`, commandTimeoutMs: 200 });
        await expect.poll(() => store.ping().then(() => true, () => false), { timeout: 5_000, interval: 20 }).toBe(true);
        await store.reserve([request('answered', [counter('leads', 1, 10)])]);

        // The connection stays open; nothing comes back.
        proxy.freeze();
        const started = performance.now();
        await expect(store.reserve([request('unanswered', [counter('leads', 1, 10)])])).rejects.toBeInstanceOf(ServiceUnavailable);
        const waited = performance.now() - started;
        expect(waited).toBeGreaterThanOrEqual(190);
        expect(waited).toBeLessThan(1_000);
      } finally {
        await proxy.stop();
      }
    });

    it('a closed store refuses further calls', async () => {
      const store = newStore();
      await store.ping();
      await store.close();
      await expect(store.ping()).rejects.toThrow(/closed/);
    });
  });
});

/** A TCP hop in front of the test Redis that can be cut and restored, to stage an outage. */
async function startProxy(): Promise<{ port: number; stop(): Promise<void>; start(): Promise<void>; freeze(): void }> {
  const target = new URL(TEST_REDIS_URL);
  const sockets = new Set<net.Socket>();
  let server: net.Server | null = null;
  let port = 0;
  let frozen = false;

  const start = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = net.createServer((client) => {
        const upstream = net.connect(Number(target.port || 6379), target.hostname);
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
          socket.on('error', () => {});
        }
        // Data is dropped while frozen: a server that stopped answering on a live connection.
        client.on('data', (data) => frozen || upstream.write(data));
        upstream.on('data', (data) => frozen || client.write(data));
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as net.AddressInfo).port;
        server = s;
        resolve();
      });
    });

  const stop = async (): Promise<void> => {
    frozen = false;
    const s = server;
    server = null;
    for (const socket of sockets) socket.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };

  await start();
  return {
    get port() {
      return port;
    },
    stop,
    start,
    freeze: () => {
      frozen = true;
    },
  };
}
