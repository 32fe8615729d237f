// Rate-limit tokens taken from the shared bucket a few at a time and spent on this node.
//
// The bucket lives in the store so that every node draws from it; asking it for each request
// costs a round trip per request. Instead a node takes a small lease of tokens in one call and
// spends them locally until they run out or the lease ends. A node only ever spends tokens it was
// granted, and the bucket keeps room for a running lease (src/store/token-bucket.ts), so however
// many nodes lease, no more requests pass than the one bucket allows. Tokens left when a lease
// ends are dropped, never given back: they can only make the limit stricter.
//
// One call at a time per bucket: requests that come while it is in flight wait for it. Besides
// sparing calls, the bucket needs it: a node's call ends its previous lease there, which is only
// true if nothing of that lease is still being spent.
import { randomBytes } from 'node:crypto';
import type { Store } from './store.ts';
import type { TokenGrant, TokenLease } from './token-bucket.ts';

/**
 * How long leased tokens may be spent. Five times what a lease is sized to last (LEASE_COVERS_MS),
 * so an event-loop stall or a slow store answer does not waste a lease in use; short enough that
 * what a node drops when its traffic stops, and the room a lease keeps in the bucket meanwhile,
 * are gone within a quarter of a second.
 */
export const LEASE_MS = 250;
/** A lease covers this much of the node's recent demand: at any rate, about 20 calls a second. */
const LEASE_COVERS_MS = 50;
/** Demand is what this node saw over the last RATE_WINDOW_MS. */
const RATE_WINDOW_MS = 250;
/** No lease above this share of the burst: it bounds what one node can hold away from the others. */
const BURST_SHARE = 20;

/**
 * Tokens to ask for: what the node's recent demand would use in LEASE_COVERS_MS, at least 1 and at
 * most burst / BURST_SHARE. An affiliate sending a few requests a second leases 1 (one call per
 * request, each spent at once, exactly an unleased bucket); at 1000 per second a node leases 50
 * every 50 ms. Sized to demand, a lease is normally used up long before it ends, so what is dropped
 * near the limit is at most one lease per node, and never more than a twentieth of the burst. At
 * the limit itself the bucket has a token at a time to give, so a node asks once per request it
 * lets through — and not for those it refuses: it knows when the next token is back.
 */
export function leaseSize(recentRequests: number, burst: number): number {
  const demand = Math.ceil((recentRequests * LEASE_COVERS_MS) / RATE_WINDOW_MS);
  return Math.max(1, Math.min(demand, Math.floor(burst / BURST_SHARE)));
}

interface Waiter {
  resolve(grant: TokenGrant): void;
  reject(error: unknown): void;
}

interface Lease {
  /** Tokens left to spend here, until `until` (the caller's clock). */
  tokens: number;
  until: number;
  /** The bucket has no whole token before then, for the limit it was asked with. */
  dryUntil: number;
  dryFor: string;
  asking: boolean;
  /** Requests waiting for the call in flight (or about to be made). */
  waiting: Waiter[];
  /** Requests seen in the current and the previous rate window (demand). */
  window: number;
  current: number;
  previous: number;
}

const GRANTED: TokenGrant = { ok: true };
const PURGE_EVERY_MS = 60_000;

export class TokenLeases {
  readonly #store: Store;
  readonly #now: () => number;
  /** This node, to the bucket: its next call ends its previous lease. */
  readonly #holder = randomBytes(8).toString('hex');
  readonly #leases = new Map<string, Lease>();
  #lastPurge: number;

  constructor(store: Store, options: { now?: () => number } = {}) {
    this.#store = store;
    this.#now = options.now ?? Date.now;
    this.#lastPurge = this.#now();
  }

  /** One token for one request: from the lease when it has one, else from the bucket. */
  take(key: string, ratePerSecond: number, burst: number): Promise<TokenGrant> {
    const now = this.#now();
    this.#purge(now);
    let lease = this.#leases.get(key);
    if (!lease) {
      lease = { tokens: 0, until: 0, dryUntil: 0, dryFor: '', asking: false, waiting: [], window: 0, current: 0, previous: 0 };
      this.#leases.set(key, lease);
    }
    roll(lease, now);
    lease.current += 1;
    if (lease.tokens > 0 && now < lease.until) {
      lease.tokens -= 1;
      return Promise.resolve(GRANTED);
    }
    lease.tokens = 0;
    // Known empty: refusing here is what the bucket would answer. A changed limit asks again.
    if (now < lease.dryUntil && lease.dryFor === limitOf(ratePerSecond, burst)) return Promise.resolve({ ok: false, retryAfterMs: lease.dryUntil - now });
    const current = lease;
    return new Promise((resolve, reject) => {
      current.waiting.push({ resolve, reject });
      if (current.asking) return;
      current.asking = true;
      // A microtask later: requests handled in the same task share the one call (those that
      // come while it is in flight wait for it, above).
      queueMicrotask(() => void this.#ask(key, current, ratePerSecond, burst));
    });
  }

  /** One store call for every request waiting; the tokens beyond them are kept as the lease. */
  async #ask(key: string, lease: Lease, ratePerSecond: number, burst: number): Promise<void> {
    const nowMs = this.#now();
    const waiting = lease.waiting.length;
    roll(lease, nowMs);
    const wanted = Math.max(waiting, leaseSize(lease.current + lease.previous * (1 - (nowMs % RATE_WINDOW_MS) / RATE_WINDOW_MS), burst));
    // Only tokens kept for later requests need a lease; the waiting ones are spent at once.
    const holdUntilMs = wanted > waiting ? nowMs + LEASE_MS : undefined;
    let answer: TokenLease;
    try {
      answer = await this.#store.takeTokens({ key, ratePerSecond, burst, nowMs, wanted, holder: this.#holder, ...(holdUntilMs === undefined ? {} : { holdUntilMs }) });
    } catch (error) {
      lease.asking = false;
      for (const waiter of lease.waiting.splice(0)) waiter.reject(error);
      return;
    }
    lease.asking = false;
    const served = lease.waiting.splice(0, answer.granted);
    for (const waiter of served) waiter.resolve(GRANTED);
    if (holdUntilMs !== undefined) {
      lease.tokens = answer.granted - served.length;
      lease.until = holdUntilMs;
    }
    if (answer.retryAfterMs > 0) {
      // The bucket ran dry: whoever is still waiting is refused, as the bucket would refuse them,
      // and so is every request until its next token is back.
      lease.dryUntil = nowMs + answer.retryAfterMs;
      lease.dryFor = limitOf(ratePerSecond, burst);
      const refusal: TokenGrant = { ok: false, retryAfterMs: Math.max(1, lease.dryUntil - this.#now()) };
      for (const waiter of lease.waiting.splice(0)) waiter.resolve(refusal);
    } else if (lease.waiting.length > 0) {
      // They arrived during the call, and the bucket may still have tokens for them.
      lease.asking = true;
      void this.#ask(key, lease, ratePerSecond, burst);
    }
  }

  #purge(now: number): void {
    if (now - this.#lastPurge < PURGE_EVERY_MS) return;
    this.#lastPurge = now;
    // A forgotten lease only costs its holder one more store call (and drops what it had left).
    for (const [key, lease] of this.#leases) {
      if (!lease.asking && lease.waiting.length === 0 && (lease.window + 2) * RATE_WINDOW_MS < now) this.#leases.delete(key);
    }
  }
}

/** Moves the demand windows on to the one `now` is in. */
function roll(lease: Lease, now: number): void {
  const window = Math.floor(now / RATE_WINDOW_MS);
  if (window === lease.window) return;
  lease.previous = window === lease.window + 1 ? lease.current : 0;
  lease.current = 0;
  lease.window = window;
}

function limitOf(ratePerSecond: number, burst: number): string {
  return `${ratePerSecond}/${burst}`;
}
