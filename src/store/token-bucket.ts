// Token buckets for rate limits: `burst` tokens, refilled at `ratePerSecond`. The arithmetic
// here is what MemoryStore runs and what the TAKE_TOKENS Lua script in src/store/redis-scripts.ts
// mirrors, so both stores answer alike.
//
// A node may take several tokens at once and spend them over a short while (a lease, see
// src/store/token-leases.ts). Tokens spent later than they were taken must not stack on top of a
// bucket that refilled to `burst` meanwhile — that would let more than `burst` through at once —
// so the bucket keeps room for them: while a holder's lease lasts, the bucket refills only to
// `burst` minus what that lease was granted. The room comes back when the lease ends (its
// `holdUntilMs`) or when the holder asks again, which it does only once it has spent or dropped
// those tokens. One lease per holder, so a bucket keeps at most one entry per node. Since the room
// counts what a lease was granted, not what is left of it, the bucket is stricter than it need be
// by what the holder has spent so far — only while the bucket is nearly full, so never near the
// limit. A lease's end is in the holder's clock, like every time here: nodes a few ms apart move
// it by as much.

export type TokenGrant = { ok: true } | { ok: false; retryAfterMs: number };

export interface TokenRequest {
  key: string;
  ratePerSecond: number;
  burst: number;
  /** The caller's clock (ms). */
  nowMs: number;
  /** At most this many tokens (a positive integer); fewer when fewer whole ones are left. */
  wanted: number;
  /** Who takes them, one id per node. Its call ends its previous lease of this bucket. */
  holder: string;
  /** The tokens may be spent until then (caller's clock); absent: they are spent at once. */
  holdUntilMs?: number;
}

export interface TokenLease {
  granted: number;
  /** 0 while the bucket has a whole token left; else how long until one is back. */
  retryAfterMs: number;
}

export interface HeldTokens {
  holder: string;
  until: number;
  tokens: number;
}

export interface Bucket {
  tokens: number;
  /** Epoch ms of the last refill. */
  at: number;
  /** The leases still running, by holder. */
  held: HeldTokens[];
}

export function checkTokenRequest(request: TokenRequest): void {
  const { key, ratePerSecond, burst, nowMs, wanted, holder, holdUntilMs } = request;
  if (typeof key !== 'string' || key === '') throw new TypeError('bucket key must be a non-empty string');
  if (typeof holder !== 'string' || holder === '') throw new TypeError('token holder must be a non-empty string');
  if (!Number.isFinite(ratePerSecond) || ratePerSecond <= 0) throw new RangeError(`ratePerSecond must be a positive number, got ${ratePerSecond}`);
  if (!Number.isSafeInteger(burst) || burst < 1) throw new RangeError(`burst must be a positive integer, got ${burst}`);
  if (!Number.isSafeInteger(wanted) || wanted < 1) throw new RangeError(`wanted must be a positive integer, got ${wanted}`);
  if (!Number.isFinite(nowMs)) throw new RangeError(`nowMs must be a finite number, got ${nowMs}`);
  if (holdUntilMs !== undefined && !Number.isFinite(holdUntilMs)) throw new RangeError(`holdUntilMs must be a finite number, got ${holdUntilMs}`);
}

/**
 * After this long untouched a bucket is full again and its leases are over, so forgetting it
 * changes nothing.
 */
export function bucketLifetimeMs(request: TokenRequest): number {
  const held = request.holdUntilMs === undefined ? 0 : Math.max(0, Math.ceil(request.holdUntilMs - request.nowMs));
  return Math.ceil((request.burst * 1000) / request.ratePerSecond) + 1000 + held;
}

/**
 * Takes up to `wanted` tokens at `nowMs`. Nodes' clocks differ a little: a `nowMs` behind the
 * bucket's last refill refills nothing rather than moving the bucket back in time.
 */
export function takeFrom(bucket: Bucket | undefined, request: TokenRequest): { bucket: Bucket; lease: TokenLease } {
  const { ratePerSecond, burst, nowMs, wanted, holder, holdUntilMs } = request;
  let tokens = bucket?.tokens ?? burst;
  let at = bucket?.at ?? nowMs;
  const held = [...(bucket?.held ?? [])].sort((a, b) => a.until - b.until);
  let out = held.reduce((sum, h) => sum + h.tokens, 0);
  const refillTo = (to: number): void => {
    const room = burst - out;
    if (tokens < room) tokens = Math.min(room, tokens + ((to - at) * ratePerSecond) / 1000);
    at = to;
  };
  if (nowMs > at) {
    // Piece by piece: the room kept for a lease comes back only once the lease has ended.
    while (held.length > 0 && held[0]!.until <= nowMs) {
      const ended = held.shift()!;
      if (ended.until > at) refillTo(ended.until);
      out -= ended.tokens;
    }
    refillTo(nowMs);
  }
  // Only now: until this call the holder may still have been spending its previous lease.
  const kept = held.filter((h) => h.holder !== holder);
  const granted = Math.min(wanted, Math.floor(tokens));
  tokens -= granted;
  if (granted > 0 && holdUntilMs !== undefined && holdUntilMs > at) kept.push({ holder, until: holdUntilMs, tokens: granted });
  const retryAfterMs = tokens < 1 ? Math.ceil(((1 - tokens) * 1000) / ratePerSecond) : 0;
  return { bucket: { tokens, at, held: kept }, lease: { granted, retryAfterMs } };
}

const PURGE_EVERY_MS = 60_000;

/** The in-process buckets of MemoryStore. */
export class MemoryBuckets {
  readonly #buckets = new Map<string, Bucket & { expiresAt: number }>();
  #lastPurge = -Infinity;

  take(request: TokenRequest): TokenLease {
    checkTokenRequest(request);
    const { key, nowMs } = request;
    this.#purge(nowMs);
    const stored = this.#buckets.get(key);
    const current = stored && stored.expiresAt > nowMs ? stored : undefined;
    const { bucket, lease } = takeFrom(current, request);
    // From the bucket's own time: a caller whose clock is behind must not shorten its life.
    this.#buckets.set(key, { ...bucket, expiresAt: bucket.at + bucketLifetimeMs(request) });
    return lease;
  }

  #purge(nowMs: number): void {
    if (nowMs - this.#lastPurge < PURGE_EVERY_MS) return;
    this.#lastPurge = nowMs;
    for (const [key, bucket] of this.#buckets) if (bucket.expiresAt <= nowMs) this.#buckets.delete(key);
  }
}
