// The rules every Store obeys. Run against each implementation (memory-store.test.ts,
// redis-store.test.ts) so the embedded and the multi-node exchange give the same answers.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CounterSpec, ReservationRequest, Store } from '../../src/store/store.ts';

const HOUR = 3_600;
const T0 = 1_700_000_000_000;

export function counter(key: string, amount: number, limit: number | null, ttlSeconds = HOUR): CounterSpec {
  return { key, amount, limit, ttlSeconds };
}

export function request(id: string, counters: CounterSpec[], expiresAt = T0 + 60_000): ReservationRequest {
  return { id, counters, expiresAt };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function describeStoreContract(name: string, makeStore: () => Store | Promise<Store>): void {
  describe(`${name} store contract`, () => {
    let store: Store;

    beforeEach(async () => {
      store = await makeStore();
    });

    afterEach(async () => {
      await store.close();
    });

    describe('counters', () => {
      it('reads missing counters as 0, in the order asked', async () => {
        await store.reserve([request('r1', [counter('b', 4, null)])]);
        expect(await store.readCounters(['a', 'b', 'c'])).toEqual([0, 4, 0]);
        expect(await store.readCounters([])).toEqual([]);
      });
    });

    describe('reserve', () => {
      it('succeeds within the limit and the counters rise', async () => {
        const outcomes = await store.reserve([request('r1', [counter('leads', 1, 3), counter('spend', 1250, 5000)])]);
        expect(outcomes).toEqual([{ id: 'r1', ok: true, values: expect.any(Array) }]);
        expect(await store.readCounters(['leads', 'spend'])).toEqual([1, 1250]);
      });

      it('fills a limit exactly', async () => {
        expect(await store.reserve([request('r1', [counter('leads', 3, 3)])])).toEqual([{ id: 'r1', ok: true, values: expect.any(Array) }]);
        expect(await store.readCounters(['leads'])).toEqual([3]);
      });

      it('fails over the limit, naming the key, and adds nothing to any key', async () => {
        await store.reserve([request('r1', [counter('leads', 2, 10), counter('spend', 4000, 5000)])]);
        const outcomes = await store.reserve([
          request('r2', [counter('leads', 1, 10), counter('spend', 1001, 5000), counter('other', 1, null)]),
        ]);
        expect(outcomes).toEqual([{ id: 'r2', ok: false, failedKey: 'spend' }]);
        expect(await store.readCounters(['leads', 'spend', 'other'])).toEqual([2, 4000, 0]);
      });

      it('is all-or-nothing across the counters of one request', async () => {
        // Fails on the first counter: the later ones, which would fit, are not touched.
        const outcomes = await store.reserve([request('r1', [counter('a', 5, 4), counter('b', 1, 100), counter('c', 1, null)])]);
        expect(outcomes).toEqual([{ id: 'r1', ok: false, failedKey: 'a' }]);
        expect(await store.readCounters(['a', 'b', 'c'])).toEqual([0, 0, 0]);
        // A failed request leaves nothing to release either.
        expect(await store.release(['r1'])).toBe(0);
      });

      it('always fits a null limit', async () => {
        const outcomes = await store.reserve([request('r1', [counter('tracked', 9_000_000_000, null)])]);
        expect(outcomes).toEqual([{ id: 'r1', ok: true, values: expect.any(Array) }]);
        expect(await store.readCounters(['tracked'])).toEqual([9_000_000_000]);
      });

      it('a negative limit admits nothing, not everything', async () => {
        expect(await store.reserve([request('r1', [counter('a', 0, -1)])])).toEqual([{ id: 'r1', ok: false, failedKey: 'a' }]);
        expect(await store.readCounters(['a'])).toEqual([0]);
      });

      it('a counter already over its limit fails even for amount 0', async () => {
        await store.reserve([request('r1', [counter('a', 5, null)])]);
        expect(await store.reserve([request('r2', [counter('b', 0, 10), counter('a', 0, 4)])])).toEqual([
          { id: 'r2', ok: false, failedKey: 'a' },
        ]);
        expect(await store.readCounters(['a', 'b'])).toEqual([5, 0]);
      });

      it('counts a key listed twice in one request twice against its limit', async () => {
        expect(await store.reserve([request('r1', [counter('a', 2, 3), counter('a', 2, 3)])])).toEqual([
          { id: 'r1', ok: false, failedKey: 'a' },
        ]);
        expect(await store.reserve([request('r2', [counter('a', 1, 3), counter('a', 2, 3)])])).toEqual([{ id: 'r2', ok: true, values: expect.any(Array) }]);
        expect(await store.readCounters(['a'])).toEqual([3]);
        expect(await store.release(['r2'])).toBe(1);
        expect(await store.readCounters(['a'])).toEqual([0]);
      });

      it('processes a batch in order: a later request sees what an earlier one added', async () => {
        const outcomes = await store.reserve([
          request('first', [counter('leads', 2, 3)]),
          request('second', [counter('leads', 2, 3)]),
          request('third', [counter('leads', 1, 3), counter('spend', 100, null)]),
        ]);
        expect(outcomes).toEqual([
          { id: 'first', ok: true, values: expect.any(Array) },
          { id: 'second', ok: false, failedKey: 'leads' },
          { id: 'third', ok: true, values: expect.any(Array) },
        ]);
        expect(await store.readCounters(['leads', 'spend'])).toEqual([3, 100]);
      });

      it('does not count twice an id that is already open', async () => {
        await store.reserve([request('r1', [counter('a', 1, 10)])]);
        expect(await store.reserve([request('r1', [counter('a', 1, 10)])])).toEqual([{ id: 'r1', ok: true, values: expect.any(Array) }]);
        expect(await store.readCounters(['a'])).toEqual([1]);
      });

      it('accepts a reservation with no counters, which can be released once', async () => {
        expect(await store.reserve([request('empty', [])])).toEqual([{ id: 'empty', ok: true, values: expect.any(Array) }]);
        expect(await store.release(['empty', 'empty'])).toBe(1);
      });

      it('answers an empty batch with no outcomes', async () => {
        expect(await store.reserve([])).toEqual([]);
      });

      it('refuses amounts and TTLs Redis could not apply, adding nothing', async () => {
        await expect(store.reserve([request('r1', [counter('a', 1, 5), counter('b', 1.5, 5)])])).rejects.toThrow(/integer/);
        await expect(store.reserve([request('r2', [counter('a', -1, 5)])])).rejects.toThrow(/non-negative/);
        await expect(store.reserve([request('r3', [counter('a', 1, 5, 0)])])).rejects.toThrow(/ttlSeconds/);
        expect(await store.readCounters(['a', 'b'])).toEqual([0, 0]);
      });

      it('lets exactly as many of 200 concurrent reservations through as the limit allows', async () => {
        const outcomes = await Promise.all(
          Array.from({ length: 200 }, (_, i) => store.reserve([request(`c${i}`, [counter('cap', 1, 37)])])),
        );
        expect(outcomes.flat().filter((o) => o.ok)).toHaveLength(37);
        expect(await store.readCounters(['cap'])).toEqual([37]);
      });
    });

    describe('release and commit', () => {
      it('release gives back exactly what was added, once', async () => {
        await store.reserve([
          request('a', [counter('leads', 2, 10), counter('spend', 500, null)]),
          request('b', [counter('leads', 1, 10)]),
        ]);
        expect(await store.release(['a'])).toBe(1);
        expect(await store.readCounters(['leads', 'spend'])).toEqual([1, 0]);
        expect(await store.release(['a'])).toBe(0);
        expect(await store.release(['a', 'unknown'])).toBe(0);
        expect(await store.readCounters(['leads', 'spend'])).toEqual([1, 0]);
        expect(await store.release(['b', 'b'])).toBe(1);
        expect(await store.readCounters(['leads'])).toEqual([0]);
        expect(await store.release([])).toBe(0);
      });

      it('commit keeps the counters and makes a later release a no-op', async () => {
        await store.reserve([request('a', [counter('leads', 2, 10)])]);
        await store.commit(['a']);
        expect(await store.release(['a'])).toBe(0);
        expect(await store.readCounters(['leads'])).toEqual([2]);
        expect(await store.releaseExpired(T0 + 10 * 60_000, 10)).toEqual([]);
        expect(await store.readCounters(['leads'])).toEqual([2]);
      });

      it('commit after release does not bring the amounts back', async () => {
        await store.reserve([request('a', [counter('leads', 2, 10)])]);
        expect(await store.release(['a'])).toBe(1);
        await store.commit(['a', 'unknown']);
        await store.commit([]);
        expect(await store.readCounters(['leads'])).toEqual([0]);
      });

      it('a reservation asked for right after a release, without waiting for it, counts without the released amounts', async () => {
        await store.reserve([request('a', [counter('budget', 40, 50)])]);
        // Called in this order, carried out in this order: the exchange does not wait for the
        // release of a refused post before reserving the next bid, which may share the budget.
        const released = store.release(['a']);
        const next = store.reserve([request('b', [counter('budget', 30, 50)])]);
        expect(await next).toEqual([{ id: 'b', ok: true, values: expect.any(Array) }]);
        expect(await released).toBe(1);
        expect(await store.readCounters(['budget'])).toEqual([30]);
      });

      it('a released or committed id can be reserved again as a new reservation', async () => {
        await store.reserve([request('a', [counter('leads', 1, 10)])]);
        await store.release(['a']);
        expect(await store.reserve([request('a', [counter('leads', 3, 10)])])).toEqual([{ id: 'a', ok: true, values: expect.any(Array) }]);
        expect(await store.readCounters(['leads'])).toEqual([3]);
      });
    });

    describe('releaseExpired', () => {
      it('releases reservations past their expiry, and not before', async () => {
        await store.reserve([
          request('early', [counter('leads', 1, 10)], T0 + 1_000),
          request('late', [counter('leads', 2, 10)], T0 + 5_000),
          request('kept', [counter('leads', 4, 10)], T0 + 1_000),
        ]);
        await store.commit(['kept']);
        expect(await store.releaseExpired(T0 + 999, 10)).toEqual([]);
        expect(await store.readCounters(['leads'])).toEqual([7]);
        expect(await store.releaseExpired(T0 + 1_000, 10)).toEqual(['early']);
        expect(await store.readCounters(['leads'])).toEqual([6]);
        expect(await store.releaseExpired(T0 + 4_999, 10)).toEqual([]);
        expect(await store.releaseExpired(T0 + 9_000, 10)).toEqual(['late']);
        expect(await store.readCounters(['leads'])).toEqual([4]);
        expect(await store.releaseExpired(T0 + 9_000, 10)).toEqual([]);
        expect(await store.release(['early', 'late'])).toBe(0);
      });

      it('releases at most limit per call, earliest expiry first', async () => {
        await store.reserve([
          request('c', [counter('n', 1, null)], T0 + 3),
          request('a', [counter('n', 1, null)], T0 + 1),
          request('b', [counter('n', 1, null)], T0 + 2),
        ]);
        expect(await store.releaseExpired(T0 + 10, 2)).toEqual(['a', 'b']);
        expect(await store.releaseExpired(T0 + 10, 2)).toEqual(['c']);
        expect(await store.readCounters(['n'])).toEqual([0]);
      });
    });

    describe('holds', () => {
      it('a hold is claimed exactly once among 20 concurrent claims', async () => {
        await store.putHold('h1', { payload: '{"bid":12}', reservationIds: [] }, 60_000);
        const results = await Promise.all(Array.from({ length: 20 }, () => store.claimHold('h1', T0)));
        const claimed = results.filter((r) => r.state === 'claimed');
        expect(claimed).toEqual([{ state: 'claimed', hold: { payload: '{"bid":12}', reservationIds: [] } }]);
        expect(results.filter((r) => r.state === 'already_claimed')).toHaveLength(19);
        // Still readable as claimed afterwards, not missing.
        expect(await store.claimHold('h1', T0)).toEqual({ state: 'already_claimed' });
      });

      it('a claim can begin the consumer auction of its post in the same call, taking no lock unless it claims', async () => {
        await store.endAuction({ lockKeys: [], token: 'none', writes: [{ key: 'sent:c', value: 'stamp', ttlSeconds: 60 }] });
        await store.putHold('h1', { payload: 'p', reservationIds: [] }, 60_000);
        const begin = { lockKeys: ['consumer:c'], lockTtlMs: 5_000, readKeys: ['sent:c', 'bought:c'] };

        const claimed = await store.claimHold('h1', T0, begin);

        expect(claimed).toEqual({ state: 'claimed', hold: { payload: 'p', reservationIds: [] }, start: { locked: true, token: expect.any(String), values: ['stamp', null] } });
        expect((await store.beginAuction(['consumer:c'], 5_000, [])).locked).toBe(false);
        // Claimed already, or never there: no lock is taken.
        const other = { ...begin, lockKeys: ['consumer:d'] };
        expect(await store.claimHold('h1', T0, other)).toEqual({ state: 'already_claimed' });
        expect(await store.claimHold('nope', T0, other)).toEqual({ state: 'missing' });
        expect((await store.beginAuction(['consumer:d'], 5_000, [])).locked).toBe(true);
        // The consumer busy in another auction: the hold is still this post's, the lock is not.
        await store.putHold('h2', { payload: 'q', reservationIds: [] }, 60_000);
        expect(await store.claimHold('h2', T0, begin)).toEqual({ state: 'claimed', hold: { payload: 'q', reservationIds: [] }, start: { locked: false } });
        expect(await store.claimHold('h2', T0)).toEqual({ state: 'already_claimed' });
      });

      it('claiming an unknown hold answers missing', async () => {
        expect(await store.claimHold('nope', T0)).toEqual({ state: 'missing' });
      });

      it('a claim moves the expiry of its open reservations, and only those', async () => {
        await store.reserve([
          request('r1', [counter('leads', 1, 10)], T0 + 1_000),
          request('r2', [counter('leads', 1, 10)], T0 + 1_000),
          request('other', [counter('leads', 1, 10)], T0 + 1_000),
        ]);
        await store.commit(['r2']);
        await store.putHold('h1', { payload: 'p', reservationIds: ['r1', 'r2', 'never-reserved'] }, 60_000);
        expect(await store.claimHold('h1', T0 + 30_000)).toEqual({
          state: 'claimed',
          hold: { payload: 'p', reservationIds: ['r1', 'r2', 'never-reserved'] },
        });
        expect(await store.releaseExpired(T0 + 29_999, 10)).toEqual(['other']);
        expect(await store.readCounters(['leads'])).toEqual([2]);
        // The committed one was not brought back to life by the claim.
        expect(await store.releaseExpired(T0 + 30_000, 10)).toEqual(['r1']);
        expect(await store.readCounters(['leads'])).toEqual([1]);
        expect(await store.release(['never-reserved'])).toBe(0);
      });

      it('a second claim does not move the expiry again', async () => {
        await store.reserve([request('r1', [counter('leads', 1, 10)], T0 + 1_000)]);
        await store.putHold('h1', { payload: 'p', reservationIds: ['r1'] }, 60_000);
        await store.claimHold('h1', T0 + 5_000);
        expect(await store.claimHold('h1', T0 + 50_000)).toEqual({ state: 'already_claimed' });
        expect(await store.releaseExpired(T0 + 5_000, 10)).toEqual(['r1']);
      });

      it('a hold vanishes after its TTL', async () => {
        await store.putHold('h1', { payload: 'p', reservationIds: [] }, 50);
        await sleep(120);
        expect(await store.claimHold('h1', T0)).toEqual({ state: 'missing' });
      });

      it('putting a hold again replaces it', async () => {
        await store.putHold('h1', { payload: 'old', reservationIds: [] }, 60_000);
        await store.putHold('h1', { payload: 'new', reservationIds: ['x'] }, 60_000);
        expect(await store.claimHold('h1', T0)).toEqual({ state: 'claimed', hold: { payload: 'new', reservationIds: ['x'] } });
      });
    });

    describe('locks', () => {
      it('is exclusive until released with the right token', async () => {
        const token = await store.acquireLock('job', 60_000);
        expect(token).toEqual(expect.any(String));
        expect(await store.acquireLock('job', 60_000)).toBeNull();
        expect(await store.acquireLock('other-job', 60_000)).toEqual(expect.any(String));
        await store.releaseLock('job', 'not-the-token');
        expect(await store.acquireLock('job', 60_000)).toBeNull();
        await store.releaseLock('job', token!);
        const next = await store.acquireLock('job', 60_000);
        expect(next).toEqual(expect.any(String));
        expect(next).not.toBe(token);
        // A stale holder releasing with its old token must not free the new holder's lock.
        await store.releaseLock('job', token!);
        expect(await store.acquireLock('job', 60_000)).toBeNull();
      });

      it('only one of many concurrent acquirers gets the lock', async () => {
        const tokens = await Promise.all(Array.from({ length: 20 }, () => store.acquireLock('job', 60_000)));
        expect(tokens.filter((t) => t !== null)).toHaveLength(1);
      });

      it('expires after its TTL', async () => {
        expect(await store.acquireLock('job', 50)).not.toBeNull();
        await sleep(120);
        expect(await store.acquireLock('job', 60_000)).not.toBeNull();
      });
    });

    describe('TTLs', () => {
      it('counters expire after ttlSeconds, each reservation refreshes it, and release never revives them', async () => {
        await store.reserve([request('r1', [counter('short', 1, null, 1), counter('long', 1, null, HOUR)])]);
        await sleep(600);
        await store.reserve([request('r2', [counter('short', 1, null, 1)])]);
        await sleep(600);
        // 1.2 s after the first reservation, but the second one restarted the second.
        expect(await store.readCounters(['short', 'long'])).toEqual([2, 1]);
        await sleep(700);
        expect(await store.readCounters(['short', 'long'])).toEqual([0, 1]);
        // Releasing what went into an expired counter must not recreate it as a negative number.
        expect(await store.release(['r1', 'r2'])).toBe(2);
        expect(await store.readCounters(['short', 'long'])).toEqual([0, 0]);
        expect(await store.reserve([request('r3', [counter('short', 1, 1, 1)])])).toEqual([{ id: 'r3', ok: true, values: expect.any(Array) }]);
      });
    });

    describe('refunds', () => {
      it('take amounts off counters, never below zero and never reviving a missing one', async () => {
        await store.reserve([request('r1', [counter('leads', 3, null), counter('spend', 500, null)])]);
        await store.commit(['r1']);
        await store.refundCounters([{ key: 'leads', amount: 1 }, { key: 'spend', amount: 900 }, { key: 'gone', amount: 5 }]);
        expect(await store.readCounters(['leads', 'spend', 'gone'])).toEqual([2, 0, 0]);
      });
    });

    describe('counter values after reserving', () => {
      it('come back in request order, for threshold alerts', async () => {
        await store.reserve([request('r0', [counter('leads', 7, 10)])]);
        expect(await store.reserve([request('r1', [counter('leads', 1, 10), counter('spend', 250, null)])])).toEqual([
          { id: 'r1', ok: true, values: [8, 250] },
        ]);
      });
    });

    describe('pacers', () => {
      const pacer = (key: string, intervalMs: number) => ({ key, intervalMs, ttlSeconds: 60, nowMs: Date.now() });

      it('admit one reservation per interval and refuse the next until the interval passes', async () => {
        const paced = (id: string) => ({ ...request(id, [counter('leads', 1, null)]), pacers: [pacer('pace:c1', 300)] });
        expect((await store.reserve([paced('a')]))[0]).toMatchObject({ ok: true });
        expect(await store.reserve([paced('b')])).toEqual([{ id: 'b', ok: false, failedKey: 'pace:c1' }]);
        expect(await store.readCounters(['leads'])).toEqual([1]);
        await sleep(350);
        expect((await store.reserve([paced('c')]))[0]).toMatchObject({ ok: true });
      });

      it('are all or nothing with the counters', async () => {
        const over = { ...request('over', [counter('capped', 1, 0)]), pacers: [pacer('pace:c2', 10_000)] };
        expect(await store.reserve([over])).toEqual([{ id: 'over', ok: false, failedKey: 'capped' }]);
        const fits = { ...request('fits', [counter('capped', 0, 0)]), pacers: [pacer('pace:c2', 10_000)] };
        expect((await store.reserve([fits]))[0]).toMatchObject({ ok: true });
      });

      it('give their slot back on release', async () => {
        const paced = (id: string) => ({ ...request(id, []), pacers: [pacer('pace:c3', 60_000)] });
        expect((await store.reserve([paced('a')]))[0]).toMatchObject({ ok: true });
        expect((await store.reserve([paced('b')]))[0]).toMatchObject({ ok: false });
        await store.release(['a']);
        expect((await store.reserve([paced('c')]))[0]).toMatchObject({ ok: true });
      });
    });

    describe('auctions', () => {
      it('take every consumer lock or none, and read values in the same call', async () => {
        await store.reserve([request('r1', [counter('cap:x', 3, null)])]);
        const first = await store.beginAuction(['consumer:a', 'consumer:b'], 5_000, ['cap:x', 'bought:y']);
        expect(first).toEqual({ locked: true, token: expect.any(String), values: ['3', null] });
        expect(await store.beginAuction(['consumer:b', 'consumer:c'], 5_000, [])).toEqual({ locked: false });
        // consumer:c was not left taken by the refused call.
        const third = await store.beginAuction(['consumer:c'], 5_000, []);
        expect(third.locked).toBe(true);
        if (!first.locked) throw new Error('unreachable');
        await store.endAuction({ lockKeys: ['consumer:a', 'consumer:b'], token: first.token, writes: [{ key: 'bought:y', value: 'by_1', ttlSeconds: 60 }] });
        const again = await store.beginAuction(['consumer:a'], 5_000, ['bought:y']);
        expect(again).toMatchObject({ locked: true, values: ['by_1'] });
      });

      it('end with writes that may keep an existing value', async () => {
        const start = await store.beginAuction([], 5_000, []);
        if (!start.locked) throw new Error('expected no locks to be needed');
        await store.endAuction({ lockKeys: [], token: start.token, writes: [{ key: 'sent:z', value: '100', ttlSeconds: 60 }] });
        await store.endAuction({ lockKeys: [], token: start.token, writes: [{ key: 'sent:z', value: '200', ttlSeconds: 60, onlyIfAbsent: true }] });
        expect((await store.beginAuction([], 5_000, ['sent:z', 'never'])) ).toMatchObject({ values: ['100', null] });
      });

      it('read any number of values in order, missing ones as null (an auction with many buyers)', async () => {
        const start = await store.beginAuction([], 5_000, []);
        if (!start.locked) throw new Error('expected no locks to be needed');
        const keys = Array.from({ length: 1203 }, (_, i) => `wide:${i}`);
        const present = keys.filter((_, i) => i % 3 === 1);
        await store.endAuction({ lockKeys: [], token: start.token, writes: present.map((key) => ({ key, value: key, ttlSeconds: 60 })) });
        const read = await store.beginAuction(['consumer:wide'], 5_000, keys);
        expect(read).toMatchObject({ locked: true, values: keys.map((key, i) => (i % 3 === 1 ? key : null)) });
      });

      it('release a lock only for the token that holds it', async () => {
        const held = await store.beginAuction(['consumer:q'], 5_000, []);
        await store.endAuction({ lockKeys: ['consumer:q'], token: 'not-the-token' });
        expect((await store.beginAuction(['consumer:q'], 5_000, [])).locked).toBe(false);
        if (!held.locked) throw new Error('unreachable');
        await store.endAuction({ lockKeys: ['consumer:q'], token: held.token });
        expect((await store.beginAuction(['consumer:q'], 5_000, [])).locked).toBe(true);
      });

      it('end by committing the sale\'s reservations with the writes and the lock release, in one call', async () => {
        await store.reserve([
          request('sold', [counter('cap:s', 2, 10)], T0 + 1_000),
          request('other', [counter('cap:s', 1, 10)], T0 + 1_000),
        ]);
        const start = await store.beginAuction(['consumer:s'], 5_000, []);
        if (!start.locked) throw new Error('unreachable');
        await store.endAuction({ lockKeys: ['consumer:s'], token: start.token, writes: [{ key: 'bought:s', value: 'by_1', ttlSeconds: 60 }], commitIds: ['sold', 'never-reserved'] });
        // Committed: past its expiry the sweeper gives back only the other one, and a release is a no-op.
        expect(await store.releaseExpired(T0 + 10 * 60_000, 10)).toEqual(['other']);
        expect(await store.release(['sold'])).toBe(0);
        expect(await store.readCounters(['cap:s'])).toEqual([2]);
        expect(await store.beginAuction(['consumer:s'], 5_000, ['bought:s'])).toMatchObject({ locked: true, values: ['by_1'] });
      });

      it('end unhurried: the store\'s next call finds it done, and with no call behind it, it still lands', async () => {
        const start = await store.beginAuction(['consumer:u'], 5_000, []);
        if (!start.locked) throw new Error('unreachable');
        // Not awaited, as a recorded sale's end is not.
        const ended = store.endAuction({ lockKeys: ['consumer:u'], token: start.token, writes: [{ key: 'bought:u', value: 'by_1', ttlSeconds: 60 }], unhurried: true });
        const next = await store.beginAuction(['consumer:u'], 5_000, ['bought:u']);
        expect(next).toMatchObject({ locked: true, values: ['by_1'] });
        expect(await ended).toBe(true);

        if (!next.locked) throw new Error('unreachable');
        expect(await store.endAuction({ lockKeys: ['consumer:u'], token: next.token, unhurried: true })).toBe(true);
        expect((await store.beginAuction(['consumer:u'], 5_000, [])).locked).toBe(true);
      });

      it('commit and write even when the lock has passed to someone else, whose lock stays', async () => {
        // The lead was recorded: its sale stands and its consumer history is true, however late
        // the auction ends; only the lock is no longer this auction's to release.
        await store.reserve([request('late', [counter('cap:l', 1, 10)], T0 + 1_000)]);
        const stale = await store.beginAuction(['consumer:l'], 50, []);
        if (!stale.locked) throw new Error('unreachable');
        await sleep(120);
        const current = await store.beginAuction(['consumer:l'], 5_000, []);
        expect(current.locked).toBe(true);
        await store.endAuction({ lockKeys: ['consumer:l'], token: stale.token, writes: [{ key: 'bought:l', value: 'by_1', ttlSeconds: 60 }], commitIds: ['late'] });
        expect((await store.beginAuction(['consumer:l'], 5_000, [])).locked).toBe(false);
        expect(await store.releaseExpired(T0 + 10 * 60_000, 10)).toEqual([]);
        expect(await store.readCounters(['cap:l'])).toEqual([1]);
        expect(await store.beginAuction([], 5_000, ['bought:l'])).toMatchObject({ values: ['by_1'] });
      });

      it('end by storing a ping\'s hold with the writes and the lock release, in one call', async () => {
        await store.reserve([request('held', [counter('cap:h', 1, 10)], T0 + 1_000)]);
        const start = await store.beginAuction(['consumer:h'], 5_000, []);
        if (!start.locked) throw new Error('unreachable');
        await store.endAuction({
          lockKeys: ['consumer:h'],
          token: start.token,
          writes: [{ key: 'sent:h', value: '1', ttlSeconds: 60 }],
          hold: { id: 'h1', record: { payload: '{"bid":12}', reservationIds: ['held'] }, ttlMs: 60_000 },
        });
        expect(await store.beginAuction(['consumer:h'], 5_000, ['sent:h'])).toMatchObject({ locked: true, values: ['1'] });
        expect(await store.claimHold('h1', T0 + 30_000)).toEqual({ state: 'claimed', hold: { payload: '{"bid":12}', reservationIds: ['held'] } });
        expect(await store.claimHold('h1', T0 + 30_000)).toEqual({ state: 'already_claimed' });
        // The claim moved the held reservation's expiry, as with a hold stored by putHold.
        expect(await store.releaseExpired(T0 + 29_999, 10)).toEqual([]);
        expect(await store.releaseExpired(T0 + 30_000, 10)).toEqual(['held']);
      });

      it('end only when the reservations it names are open, so it can follow them without waiting', async () => {
        const start = await store.beginAuction(['consumer:o'], 5_000, []);
        if (!start.locked) throw new Error('unreachable');
        const end = (id: string, holdId: string) => ({
          lockKeys: ['consumer:o'],
          token: start.token,
          writes: [{ key: `sent:${holdId}`, value: '1', ttlSeconds: 60 }],
          hold: { id: holdId, record: { payload: holdId, reservationIds: [id] }, ttlMs: 60_000 },
          ifOpen: [id],
        });
        // Sent together, neither waiting for the other: a reservation that does not fit...
        const refused = store.reserve([request('too-big', [counter('cap:o', 11, 10)])]);
        const notEnded = store.endAuction(end('too-big', 'h-refused'));
        expect((await refused)[0]).toMatchObject({ ok: false });
        // ...leaves the auction as it was: no hold, no write, the lock still taken.
        expect(await notEnded).toBe(false);
        expect(await store.claimHold('h-refused', T0 + 30_000)).toEqual({ state: 'missing' });
        expect(await store.beginAuction([], 5_000, ['sent:h-refused'])).toMatchObject({ values: [null] });
        expect((await store.beginAuction(['consumer:o'], 5_000, [])).locked).toBe(false);

        // One that fits lets the end behind it through.
        const reserved = store.reserve([request('fits', [counter('cap:o', 1, 10)])]);
        const ended = store.endAuction(end('fits', 'h-fits'));
        expect((await reserved)[0]).toMatchObject({ ok: true });
        expect(await ended).toBe(true);
        expect(await store.beginAuction(['consumer:o'], 5_000, ['sent:h-fits'])).toMatchObject({ locked: true, values: ['1'] });
        expect(await store.claimHold('h-fits', T0 + 30_000)).toMatchObject({ state: 'claimed' });

        // Released or committed is no longer open.
        await store.release(['fits']);
        const again = await store.beginAuction(['consumer:p'], 5_000, []);
        if (!again.locked) throw new Error('unreachable');
        expect(await store.endAuction({ lockKeys: ['consumer:p'], token: again.token, ifOpen: ['fits'] })).toBe(false);
        expect((await store.beginAuction(['consumer:p'], 5_000, [])).locked).toBe(false);
      });

      it('refuse a hold TTL Redis could not apply, changing nothing', async () => {
        await store.reserve([request('kept', [counter('cap:k', 1, 10)], T0 + 1_000)]);
        const start = await store.beginAuction(['consumer:k'], 5_000, []);
        if (!start.locked) throw new Error('unreachable');
        await expect(store.endAuction({ lockKeys: ['consumer:k'], token: start.token, commitIds: ['kept'], hold: { id: 'h2', record: { payload: 'p', reservationIds: [] }, ttlMs: 0 } })).rejects.toThrow(RangeError);
        expect(await store.releaseExpired(T0 + 1_000, 10)).toEqual(['kept']);
        expect((await store.beginAuction(['consumer:k'], 5_000, [])).locked).toBe(false);
      });

      it('commit with no locks and no writes (a lead that needed no consumer lock)', async () => {
        await store.reserve([request('bare', [counter('cap:b', 1, 10)], T0 + 1_000)]);
        await store.endAuction({ lockKeys: [], token: 'none', commitIds: ['bare'] });
        expect(await store.releaseExpired(T0 + 10 * 60_000, 10)).toEqual([]);
        expect(await store.readCounters(['cap:b'])).toEqual([1]);
      });

      it('50 concurrent auctions of one consumer: exactly one holds the lock', async () => {
        const starts = await Promise.all(Array.from({ length: 50 }, () => store.beginAuction(['consumer:hot'], 5_000, [])));
        expect(starts.filter((s) => s.locked)).toHaveLength(1);
      });
    });

    describe('hashes (a consumer\'s history)', () => {
      const field = (key: string, name: string, value: string, ttlSeconds = 60) => ({ key, field: name, value, ttlSeconds });

      it('are read after the keys, field by field in the order asked, missing ones as null', async () => {
        await store.reserve([request('r1', [counter('cap:h', 4, null)])]);
        await store.endAuction({ lockKeys: [], token: 'none', fieldWrites: [field('history:e', 'bought:b1', 'one'), field('history:e', 'sent:a1:v', 'two'), field('history:p', 'excl:v', 'three')] });

        const start = await store.beginAuction(['consumer:e'], 5_000, ['cap:h', 'nothing'], [
          { key: 'history:e', fields: ['sent:a1:v', 'excl:v', 'bought:b1'] },
          { key: 'history:none', fields: ['sent:a1:v'] },
          { key: 'history:p', fields: ['excl:v'] },
        ]);

        expect(start).toEqual({ locked: true, token: expect.any(String), values: ['4', null, 'two', null, 'one', null, 'three'] });
      });

      it('read any number of fields of one hash (an auction with a thousand buyers)', async () => {
        const names = Array.from({ length: 1203 }, (_, i) => `bought:b${i}`);
        const present = names.filter((_, i) => i % 3 === 1);
        await store.endAuction({ lockKeys: [], token: 'none', fieldWrites: present.map((name) => field('history:wide', name, name)) });
        const read = await store.beginAuction([], 5_000, [], [{ key: 'history:wide', fields: names }]);
        expect(read).toMatchObject({ locked: true, values: names.map((name, i) => (i % 3 === 1 ? name : null)) });
      });

      it('are written with the lock release and the commit, and a later write of a field replaces it', async () => {
        await store.reserve([request('sold', [counter('cap:w', 1, 10)], T0 + 1_000)]);
        const start = await store.beginAuction(['consumer:w'], 5_000, []);
        if (!start.locked) throw new Error('unreachable');
        const ended = await store.endAuction({ lockKeys: ['consumer:w'], token: start.token, commitIds: ['sold'], fieldWrites: [field('history:w', 'bought:b1', 'first')] });
        expect(ended).toBe(true);
        expect(await store.releaseExpired(T0 + 10 * 60_000, 10)).toEqual([]);
        await store.endAuction({ lockKeys: [], token: 'none', fieldWrites: [field('history:w', 'bought:b1', 'second')] });
        expect(await store.beginAuction(['consumer:w'], 5_000, [], [{ key: 'history:w', fields: ['bought:b1'] }])).toMatchObject({ locked: true, values: ['second'] });
      });

      it('live as long as their longest write asked, and no write shortens that', async () => {
        await store.endAuction({ lockKeys: [], token: 'none', fieldWrites: [field('history:long', 'sent:a:v', 'long', 60), field('history:long', 'bought:b', 'short', 1)] });
        await store.endAuction({ lockKeys: [], token: 'none', fieldWrites: [field('history:long', 'excl:v', 'later', 1)] });
        await store.endAuction({ lockKeys: [], token: 'none', fieldWrites: [field('history:short', 'bought:b', 'gone', 1)] });
        await sleep(2_100);
        const read = await store.beginAuction([], 5_000, [], [
          { key: 'history:long', fields: ['sent:a:v', 'bought:b', 'excl:v'] },
          { key: 'history:short', fields: ['bought:b'] },
        ]);
        // A field outlives its own TTL inside a longer-lived hash: readers judge it by its stamp.
        expect(read).toMatchObject({ locked: true, values: ['long', 'short', 'later', null] });
      });

      it('refuse a lifetime EXPIRE could not apply, changing nothing', async () => {
        await store.reserve([request('kept', [counter('cap:f', 1, 10)], T0 + 1_000)]);
        const start = await store.beginAuction(['consumer:f'], 5_000, []);
        if (!start.locked) throw new Error('unreachable');
        for (const ttlSeconds of [0, 1.5]) {
          await expect(store.endAuction({ lockKeys: ['consumer:f'], token: start.token, commitIds: ['kept'], fieldWrites: [field('history:f', 'bought:b', 'x', ttlSeconds)] })).rejects.toThrow(RangeError);
        }
        expect(await store.releaseExpired(T0 + 1_000, 10)).toEqual(['kept']);
        expect(await store.beginAuction([], 5_000, [], [{ key: 'history:f', fields: ['bought:b'] }])).toMatchObject({ locked: true, values: [null] });
        expect((await store.beginAuction(['consumer:f'], 5_000, [])).locked).toBe(false);
      });

      it('are read by a claim that begins its post\'s auction', async () => {
        await store.endAuction({ lockKeys: [], token: 'none', fieldWrites: [field('history:c', 'sent:a:v', 'stamp')] });
        await store.putHold('hc', { payload: 'p', reservationIds: [] }, 60_000);
        const begin = { lockKeys: ['consumer:hc'], lockTtlMs: 5_000, readKeys: ['cap:none'], readHashes: [{ key: 'history:c', fields: ['bought:b', 'sent:a:v'] }] };

        expect(await store.claimHold('hc', T0, begin)).toEqual({
          state: 'claimed',
          hold: { payload: 'p', reservationIds: [] },
          start: { locked: true, token: expect.any(String), values: [null, null, 'stamp'] },
        });
      });
    });

    describe('regrouping values into hashes', () => {
      const history = (hash: string, fields: string[]) => store.beginAuction([], 5_000, [], [{ key: `history:${hash}`, fields }]);
      const values = (keys: string[]) => store.beginAuction([], 5_000, keys);

      it('moves each value <kind>:<rest>:<last> of the kinds named into field <kind>:<rest> of hash <into>:<last>', async () => {
        await store.reserve([request('r1', [counter('cap:x:h1', 2, null)])]);
        await store.endAuction({
          lockKeys: [],
          token: 'none',
          writes: [
            { key: 'sent:a1:auto:h1', value: '100|ld_1', ttlSeconds: 60 },
            { key: 'bought:b1:h1', value: '100|', ttlSeconds: 60 },
            { key: 'excl:auto:h2', value: '100|b1', ttlSeconds: 60 },
            { key: 'other:k:h1', value: 'not named', ttlSeconds: 60 },
          ],
        });

        expect(await store.regroupValues(['sent', 'bought', 'excl'], 'history')).toBe(3);

        expect(await history('h1', ['sent:a1:auto', 'bought:b1', 'other:k'])).toMatchObject({ values: ['100|ld_1', '100|', null] });
        expect(await history('h2', ['excl:auto'])).toMatchObject({ values: ['100|b1'] });
        // Moved, not copied; what was not named stays where it was.
        expect(await values(['sent:a1:auto:h1', 'bought:b1:h1', 'excl:auto:h2', 'other:k:h1', 'cap:x:h1'])).toMatchObject({ values: [null, null, null, 'not named', '2'] });
      });

      it('keeps a field the hash already has, as newer, and the value\'s time left', async () => {
        await store.endAuction({ lockKeys: [], token: 'none', fieldWrites: [{ key: 'history:h3', field: 'bought:b1', value: 'newer', ttlSeconds: 1 }] });
        await store.endAuction({ lockKeys: [], token: 'none', writes: [{ key: 'bought:b1:h3', value: 'older', ttlSeconds: 60 }, { key: 'bought:b2:h4', value: 'brief', ttlSeconds: 1 }] });

        expect(await store.regroupValues(['bought'], 'history')).toBe(2);
        await sleep(2_100);

        // h3 lives as long as the value moved into it had left; h4 no longer than its value.
        expect(await history('h3', ['bought:b1'])).toMatchObject({ values: ['newer'] });
        expect(await history('h4', ['bought:b2'])).toMatchObject({ values: [null] });
      });

      it('happens once: values written the old way afterwards stay where they are', async () => {
        await store.endAuction({ lockKeys: [], token: 'none', writes: [{ key: 'sent:a:v:h5', value: 'first', ttlSeconds: 60 }] });
        expect(await store.regroupValues(['sent'], 'history')).toBe(1);
        await store.endAuction({ lockKeys: [], token: 'none', writes: [{ key: 'sent:a:v:h6', value: 'late', ttlSeconds: 60 }] });

        expect(await store.regroupValues(['sent'], 'history')).toBe(0);

        expect(await values(['sent:a:v:h6'])).toMatchObject({ values: ['late'] });
        expect(await history('h5', ['sent:a:v'])).toMatchObject({ values: ['first'] });
      });
    });

    describe('configuration changes', () => {
      it('reach the listeners', async () => {
        let heard = 0;
        const stop = await store.onConfigChange(() => heard++);
        await store.announceConfigChange();
        for (let i = 0; i < 50 && heard === 0; i++) await sleep(20);
        expect(heard).toBe(1);
        await stop();
        await store.announceConfigChange();
        await sleep(100);
        expect(heard).toBe(1);
      });
    });

    describe('token buckets', () => {
      /** One token, spent at once: what a request costs without a lease. */
      const one = (key: string, ratePerSecond: number, burst: number, nowMs: number) =>
        store.takeTokens({ key, ratePerSecond, burst, nowMs, wanted: 1, holder: 'node-a' });
      const granted = { granted: 1, retryAfterMs: 0 };

      it('start full: burst tokens at once, then a refusal saying when the next one is back', async () => {
        for (let i = 0; i < 2; i++) expect(await one('aff:a', 4, 3, T0)).toEqual(granted);
        // The last one says when the next is back, as a refusal would.
        expect(await one('aff:a', 4, 3, T0)).toEqual({ granted: 1, retryAfterMs: 250 });
        expect(await one('aff:a', 4, 3, T0)).toEqual({ granted: 0, retryAfterMs: 250 });
        expect(await one('aff:a', 4, 3, T0 + 100)).toEqual({ granted: 0, retryAfterMs: 150 });
      });

      it('refill at the rate, and a refused request does not cost a token', async () => {
        for (let i = 0; i < 2; i++) await one('aff:a', 10, 2, T0);
        expect((await one('aff:a', 10, 2, T0 + 50)).granted).toBe(0);
        expect((await one('aff:a', 10, 2, T0 + 100)).granted).toBe(1);
        expect((await one('aff:a', 10, 2, T0 + 100)).granted).toBe(0);
        expect((await one('aff:a', 10, 2, T0 + 200)).granted).toBe(1);
      });

      it('never hold more than burst, however long they sat idle', async () => {
        await one('aff:a', 100, 5, T0);
        const grants = [];
        for (let i = 0; i < 7; i++) grants.push((await one('aff:a', 100, 5, T0 + 3_600_000)).granted);
        expect(grants).toEqual([1, 1, 1, 1, 1, 0, 0]);
      });

      it('keep fractions of a token between calls', async () => {
        await one('aff:a', 3, 1, T0);
        // 3 per second is one every 333.3 ms: two thirds of one after 222 ms is not yet enough...
        expect((await one('aff:a', 3, 1, T0 + 222)).granted).toBe(0);
        // ...and the rest arrives on time whichever way the 334 ms are split.
        expect((await one('aff:a', 3, 1, T0 + 334)).granted).toBe(1);
      });

      it('do not refill when a caller\'s clock is behind the last refill (nodes disagreeing on the time)', async () => {
        await one('aff:a', 1, 1, T0 + 5_000);
        expect((await one('aff:a', 1, 1, T0)).granted).toBe(0);
        expect((await one('aff:a', 1, 1, T0 + 4_000)).granted).toBe(0);
        expect((await one('aff:a', 1, 1, T0 + 6_000)).granted).toBe(1);
      });

      it('are separate per key', async () => {
        expect((await one('aff:a', 1, 1, T0)).granted).toBe(1);
        expect((await one('aff:a', 1, 1, T0)).granted).toBe(0);
        expect((await one('aff:b', 1, 1, T0)).granted).toBe(1);
      });

      it('grant exactly burst tokens among 50 concurrent takers', async () => {
        const grants = await Promise.all(Array.from({ length: 50 }, () => one('aff:hot', 1, 10, T0)));
        expect(grants.filter((g) => g.granted === 1)).toHaveLength(10);
      });

      it('grant several at once: as many whole tokens as are left, never more than wanted', async () => {
        const take = (wanted: number, nowMs: number) => store.takeTokens({ key: 'aff:m', ratePerSecond: 10, burst: 5, nowMs, wanted, holder: 'node-a' });
        expect(await take(3, T0)).toEqual({ granted: 3, retryAfterMs: 0 });
        expect(await take(5, T0)).toEqual({ granted: 2, retryAfterMs: 100 });
        expect(await take(1, T0)).toEqual({ granted: 0, retryAfterMs: 100 });
        // 2.5 tokens back after 250 ms: two whole ones, and half a token kept.
        expect(await take(4, T0 + 250)).toEqual({ granted: 2, retryAfterMs: 50 });
        expect(await take(1, T0 + 300)).toEqual({ granted: 1, retryAfterMs: 100 });
      });

      it('grant exactly burst tokens among 50 concurrent takers of several each', async () => {
        const grants = await Promise.all(Array.from({ length: 50 }, (_, i) => store.takeTokens({ key: 'aff:many', ratePerSecond: 1, burst: 10, nowMs: T0, wanted: 3, holder: `node-${i}` })));
        expect(grants.reduce((sum, g) => sum + g.granted, 0)).toBe(10);
      });

      it('keep room for tokens a holder may still spend, so they never stack on a refilled bucket', async () => {
        const take = (holder: string, wanted: number, nowMs: number, holdUntilMs?: number) =>
          store.takeTokens({ key: 'aff:h', ratePerSecond: 10, burst: 10, nowMs, wanted, holder, ...(holdUntilMs === undefined ? {} : { holdUntilMs }) });
        // Node A leases 4 tokens it may spend until T0 + 250.
        expect(await take('node-a', 4, T0, T0 + 250)).toEqual({ granted: 4, retryAfterMs: 0 });
        // 200 ms later the bucket refilled to 8, but A may still spend its 4 now: 6 for node B,
        // so that at most 10 (the burst) pass at this instant.
        expect(await take('node-b', 10, T0 + 200)).toEqual({ granted: 6, retryAfterMs: 100 });
        // A's lease ended at T0 + 250: the room came back then, not before (0.5 + 1.5 tokens).
        expect(await take('node-b', 10, T0 + 400)).toEqual({ granted: 2, retryAfterMs: 100 });
      });

      it('give a lease\'s room back when its holder asks again (it has spent or dropped those tokens)', async () => {
        const take = (holder: string, wanted: number, nowMs: number, holdUntilMs?: number) =>
          store.takeTokens({ key: 'aff:r', ratePerSecond: 10, burst: 10, nowMs, wanted, holder, ...(holdUntilMs === undefined ? {} : { holdUntilMs }) });
        expect(await take('node-a', 4, T0, T0 + 60_000)).toEqual({ granted: 4, retryAfterMs: 0 });
        // Node A asks again: its first lease is over, although its hold time was not.
        expect(await take('node-a', 1, T0 + 100)).toEqual(granted);
        // So the bucket refills to the full burst: 5 left + 5 in 500 ms.
        expect(await take('node-b', 20, T0 + 600)).toEqual({ granted: 10, retryAfterMs: 100 });
        // Whereas another holder's lease keeps its room for as long as it runs.
        expect(await take('node-c', 4, T0 + 5_000, T0 + 60_000)).toEqual({ granted: 4, retryAfterMs: 0 });
        expect(await take('node-b', 20, T0 + 10_000)).toEqual({ granted: 6, retryAfterMs: 100 });
      });

      it('refuse a rate, burst, count, holder or time they cannot keep', async () => {
        const request = { key: 'aff:a', ratePerSecond: 1, burst: 1, nowMs: T0, wanted: 1, holder: 'node-a' };
        await expect(store.takeTokens({ ...request, ratePerSecond: 0 })).rejects.toThrow(RangeError);
        await expect(store.takeTokens({ ...request, ratePerSecond: -1 })).rejects.toThrow(RangeError);
        await expect(store.takeTokens({ ...request, burst: 0 })).rejects.toThrow(RangeError);
        await expect(store.takeTokens({ ...request, burst: 1.5 })).rejects.toThrow(RangeError);
        await expect(store.takeTokens({ ...request, wanted: 0 })).rejects.toThrow(RangeError);
        await expect(store.takeTokens({ ...request, wanted: 2.5 })).rejects.toThrow(RangeError);
        await expect(store.takeTokens({ ...request, nowMs: Number.NaN })).rejects.toThrow(RangeError);
        await expect(store.takeTokens({ ...request, holdUntilMs: Number.POSITIVE_INFINITY })).rejects.toThrow(RangeError);
        await expect(store.takeTokens({ ...request, key: '' })).rejects.toThrow(TypeError);
        await expect(store.takeTokens({ ...request, holder: '' })).rejects.toThrow(TypeError);
      });
    });

    it('ping answers', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
