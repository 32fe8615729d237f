// A node's leases of rate-limit buckets (src/store/token-leases.ts), over a real store and a
// clock the test moves: what each request costs the store, and that the node never lets through
// more than the bucket granted it.
import { describe, expect, it } from 'vitest';
import { ServiceUnavailable } from '../../src/errors/problems.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import { RedisStore } from '../../src/store/redis-store.ts';
import type { Store, TokenLease, TokenRequest } from '../../src/store/store.ts';
import { LEASE_MS, leaseSize, TokenLeases } from '../../src/store/token-leases.ts';
import { countingStore, type CountingStore } from '../support/counting-store.ts';
import { withStoreMethod } from '../support/store-method.ts';

const T0 = 1_700_000_000_000;

function setUp(store: Store = new MemoryStore()): { leases: TokenLeases; counting: CountingStore; clock: { now: number } } {
  const clock = { now: T0 };
  const counting = countingStore(store);
  return { leases: new TokenLeases(counting.store, { now: () => clock.now }), counting, clock };
}

const requests = (counting: CountingStore) => counting.calls.filter((c) => c.method === 'takeTokens').map((c) => c.args[0] as TokenRequest);
const grantedByStore = (counting: CountingStore) =>
  counting.calls.filter((c) => c.method === 'takeTokens').reduce((sum, c) => sum + (c.result as TokenLease).granted, 0);

/** The real store, answering `delayMs` late: a call that stays in flight a while. */
function slow(store: Store, delayMs: number): Store {
  return withStoreMethod(store, 'takeTokens', (takeTokens) => async (request: TokenRequest) => {
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    return takeTokens(request);
  });
}

describe('rate-limit leases', () => {
  it('cost an affiliate sending one request a second one store call per request, for one token spent at once', async () => {
    const { leases, counting, clock } = setUp();
    for (let i = 0; i < 10; i++) {
      expect(await leases.take('aff:slow', 1, 2)).toEqual({ ok: true });
      clock.now += 1000;
    }
    expect(requests(counting)).toHaveLength(10);
    for (const request of requests(counting)) {
      expect(request.wanted).toBe(1);
      expect(request.holdUntilMs).toBeUndefined();
    }
  });

  it('give a low-rate affiliate exactly its burst, then the bucket\'s refusal and retry-after', async () => {
    const { leases, counting, clock } = setUp();
    const grants = [];
    for (let i = 0; i < 5; i++) grants.push(await leases.take('aff:b', 1, 3));
    expect(grants).toEqual([{ ok: true }, { ok: true }, { ok: true }, { ok: false, retryAfterMs: 1000 }, { ok: false, retryAfterMs: 1000 }]);
    // One call per token, and none for the refusals: the bucket said with its last token when
    // the next one is back.
    expect(requests(counting)).toHaveLength(3);
    clock.now += 400;
    expect(await leases.take('aff:b', 1, 3)).toEqual({ ok: false, retryAfterMs: 600 });
    clock.now += 600;
    expect(await leases.take('aff:b', 1, 3)).toEqual({ ok: true });
    expect(requests(counting)).toHaveLength(4);
  });

  it('cost an affiliate at 1000 requests a second a few dozen store calls a second', async () => {
    const { leases, counting, clock } = setUp();
    for (let i = 0; i < 3000; i++) {
      expect(await leases.take('aff:fast', 1000, 2000)).toEqual({ ok: true });
      clock.now += 1;
    }
    const calls = requests(counting);
    // Past the first quarter second (while the node learns the rate), leases of about 50 tokens,
    // one every 50 ms: 20 calls a second.
    const steady = calls.filter((r) => r.nowMs >= T0 + 1000);
    expect(steady.length / 2).toBeLessThanOrEqual(21);
    expect(steady.every((r) => r.wanted >= 50 && r.wanted <= 51)).toBe(true);
    expect(calls.length).toBeLessThan(90);
    expect(grantedByStore(counting)).toBeGreaterThanOrEqual(3000);
  });

  it('never let through more than the bucket granted, and drop what a lease did not spend in time', async () => {
    const { leases, counting, clock } = setUp();
    let passed = 0;
    for (let i = 0; i < 500; i++) {
      if ((await leases.take('aff:d', 1000, 2000)).ok) passed++;
      clock.now += 1;
    }
    const last = requests(counting).at(-1)!;
    expect(last.holdUntilMs).toBe(last.nowMs + LEASE_MS);
    expect(grantedByStore(counting)).toBeGreaterThan(passed);
    const asked = requests(counting).length;
    // The lease still has tokens, but past its end they are gone: the next request asks again.
    clock.now = last.holdUntilMs!;
    expect(await leases.take('aff:d', 1000, 2000)).toEqual({ ok: true });
    expect(requests(counting)).toHaveLength(asked + 1);
    expect(grantedByStore(counting)).toBeGreaterThanOrEqual(passed + 1);
  });

  it('let an affiliate sending five times its rate through at its rate, never above', async () => {
    const { leases, counting, clock } = setUp();
    let passed = 0;
    // 1000 requests a second for 2 s against 200 a second in bursts of 200.
    for (let i = 0; i < 2000; i++) {
      if ((await leases.take('aff:over', 200, 200)).ok) passed++;
      clock.now += 1;
    }
    expect(passed).toBeLessThanOrEqual(grantedByStore(counting));
    expect(passed).toBeLessThanOrEqual(200 + 200 * 2);
    // What leases drop and the room they keep cost little of what the bucket allows.
    expect(passed).toBeGreaterThanOrEqual(0.95 * (200 + 200 * 2));
    // Refused requests mostly cost nothing: the node knows when the next token is back.
    expect(requests(counting).length).toBeLessThan(passed);
  });

  it('make requests that arrive together, or during a call, share one store call', async () => {
    const { leases, counting } = setUp(slow(new MemoryStore(), 30));
    const together = await Promise.all(Array.from({ length: 50 }, () => leases.take('aff:t', 1000, 2000)));
    expect(together.every((g) => g.ok)).toBe(true);
    expect(requests(counting).map((r) => r.wanted)).toEqual([50]);

    counting.reset();
    const first = leases.take('aff:u', 1000, 2000);
    await new Promise((resolve) => setTimeout(resolve, 5));
    // 30 more while the first one's call is in flight: they wait for it, then one call for all.
    const during = Array.from({ length: 30 }, () => leases.take('aff:u', 1000, 2000));
    expect((await Promise.all([first, ...during])).every((g) => g.ok)).toBe(true);
    expect(requests(counting).map((r) => r.wanted)).toEqual([1, 30]);
  });

  it('refuse the requests waiting beyond what a running-dry bucket had', async () => {
    const { leases, counting } = setUp();
    const grants = await Promise.all(Array.from({ length: 8 }, () => leases.take('aff:dry', 10, 5)));
    expect(grants.filter((g) => g.ok)).toHaveLength(5);
    expect(grants.filter((g) => !g.ok)).toEqual(Array.from({ length: 3 }, () => ({ ok: false, retryAfterMs: 100 })));
    expect(requests(counting)).toHaveLength(1);
  });

  it('ask again when the limit changed, although the bucket was known empty', async () => {
    const { leases, clock } = setUp();
    expect(await leases.take('aff:c', 0.1, 1)).toEqual({ ok: true });
    expect(await leases.take('aff:c', 0.1, 1)).toEqual({ ok: false, retryAfterMs: 10_000 });
    clock.now += 100;
    // The operator raised the rate: at 100 per second the bucket has refilled by now.
    expect(await leases.take('aff:c', 100, 1)).toEqual({ ok: true });
  });

  it('pass a store failure to every request waiting, and ask afresh for the next', async () => {
    const { leases, counting } = setUp(new RedisStore({ url: 'redis://127.0.0.1:1', commandTimeoutMs: 200 }));
    const failures = await Promise.allSettled(Array.from({ length: 5 }, () => leases.take('aff:f', 10, 20)));
    for (const failure of failures) expect(failure).toMatchObject({ status: 'rejected', reason: expect.any(ServiceUnavailable) });
    await expect(leases.take('aff:f', 10, 20)).rejects.toBeInstanceOf(ServiceUnavailable);
    expect(requests(counting)).toHaveLength(2);
    await counting.store.close();
  });
});

describe('the lease size', () => {
  it('is what recent demand uses in 50 ms, at least 1 and at most a twentieth of the burst', () => {
    expect(leaseSize(0, 2000)).toBe(1);
    expect(leaseSize(1, 2000)).toBe(1);
    expect(leaseSize(5, 2000)).toBe(1);
    expect(leaseSize(6, 2000)).toBe(2);
    expect(leaseSize(250, 2000)).toBe(50);
    expect(leaseSize(10_000, 2000)).toBe(100);
    expect(leaseSize(10_000, 30)).toBe(1);
  });
});
