import { describe, expect, it, vi } from 'vitest';
import { MemoryStore } from '../../src/store/memory-store.ts';
import { startReservationSweeper } from '../../src/store/reservation-sweeper.ts';
import type { Store } from '../../src/store/store.ts';
import { counter, describeStoreContract, request, sleep } from './store-contract.ts';

describeStoreContract('memory', () => new MemoryStore());

describe('MemoryStore with an injected clock', () => {
  it('expires counters, holds and locks by that clock', async () => {
    let now = 1_000_000;
    const store = new MemoryStore({ now: () => now });
    await store.reserve([request('r1', [counter('a', 1, null, 10)])]);
    await store.putHold('h1', { payload: 'p', reservationIds: [] }, 5_000);
    expect(await store.acquireLock('job', 5_000)).not.toBeNull();

    now += 4_999;
    expect(await store.readCounters(['a'])).toEqual([1]);
    expect(await store.acquireLock('job', 5_000)).toBeNull();

    now += 1;
    expect(await store.claimHold('h1', 0)).toEqual({ state: 'missing' });
    expect(await store.acquireLock('job', 5_000)).not.toBeNull();

    now += 5_000;
    expect(await store.readCounters(['a'])).toEqual([0]);
  });
});

describe('startReservationSweeper', () => {
  it('releases expired reservations on its interval and reports them', async () => {
    const store = new MemoryStore();
    const now = Date.now();
    await store.reserve([
      request('gone', [counter('leads', 1, 10)], now - 1),
      request('open', [counter('leads', 1, 10)], now + 60_000),
    ]);
    const released: string[][] = [];
    const sweeper = startReservationSweeper(store, { intervalMs: 10, onReleased: (ids) => released.push(ids) });
    await vi.waitFor(() => expect(released).toEqual([['gone']]));
    await sweeper.stop();
    expect(await store.readCounters(['leads'])).toEqual([1]);
  });

  it('drains a backlog larger than one batch in a single run', async () => {
    const store = new MemoryStore();
    const requests = Array.from({ length: 25 }, (_, i) => request(`r${i}`, [counter('leads', 1, null)], 1));
    await store.reserve(requests);
    const batches: string[][] = [];
    const sweeper = startReservationSweeper(store, { intervalMs: 5, batchSize: 10, now: () => 2, onReleased: (ids) => batches.push(ids) });
    await vi.waitFor(() => expect(batches.flat()).toHaveLength(25));
    await sweeper.stop();
    expect(batches.map((b) => b.length)).toEqual([10, 10, 5]);
    expect(await store.readCounters(['leads'])).toEqual([0]);
  });

  it('never overlaps runs, even when the store is slower than the interval', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    let calls = 0;
    const store = {
      releaseExpired: async () => {
        calls++;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await sleep(30);
        inFlight--;
        return [];
      },
    } as unknown as Store;
    const sweeper = startReservationSweeper(store, { intervalMs: 1 });
    await vi.waitFor(() => expect(calls).toBeGreaterThanOrEqual(3));
    await sweeper.stop();
    expect(maxInFlight).toBe(1);
    // stop() waited for the run in progress.
    expect(inFlight).toBe(0);
  });

  it('reports errors and keeps sweeping', async () => {
    let calls = 0;
    const errors: unknown[] = [];
    const store = {
      releaseExpired: async () => {
        calls++;
        if (calls <= 2) throw new Error(`boom ${calls}`);
        return [];
      },
    } as unknown as Store;
    const sweeper = startReservationSweeper(store, {
      intervalMs: 1,
      onError: (error) => {
        errors.push(error);
        throw new Error('a broken reporter must not stop the sweeper');
      },
    });
    await vi.waitFor(() => expect(calls).toBeGreaterThanOrEqual(4));
    await sweeper.stop();
    expect(errors.map((e) => (e as Error).message)).toEqual(['boom 1', 'boom 2']);
  });

  it('passes its clock to releaseExpired and stops calling after stop()', async () => {
    const seen: number[] = [];
    const store = {
      releaseExpired: async (nowMs: number, limit: number) => {
        seen.push(nowMs, limit);
        return [];
      },
    } as unknown as Store;
    const sweeper = startReservationSweeper(store, { intervalMs: 1, now: () => 42, batchSize: 7 });
    await vi.waitFor(() => expect(seen.length).toBeGreaterThan(0));
    await sweeper.stop();
    expect(seen.slice(0, 2)).toEqual([42, 7]);
    const count = seen.length;
    await sleep(20);
    expect(seen.length).toBe(count);
  });
});
