// Token buckets for rate limits: `burst` tokens, refilled at `ratePerSecond`, one taken per
// request. The arithmetic here is what MemoryStore runs and what the TAKE_TOKEN Lua script in
// src/store/redis-scripts.ts mirrors, so both stores answer alike.

export type TokenGrant = { ok: true } | { ok: false; retryAfterMs: number };

export interface Bucket {
  tokens: number;
  /** Epoch ms of the last refill. */
  at: number;
}

export function checkTokenRequest(key: string, ratePerSecond: number, burst: number, nowMs: number): void {
  if (typeof key !== 'string' || key === '') throw new TypeError('bucket key must be a non-empty string');
  if (!Number.isFinite(ratePerSecond) || ratePerSecond <= 0) throw new RangeError(`ratePerSecond must be a positive number, got ${ratePerSecond}`);
  if (!Number.isSafeInteger(burst) || burst < 1) throw new RangeError(`burst must be a positive integer, got ${burst}`);
  if (!Number.isFinite(nowMs)) throw new RangeError(`nowMs must be a finite number, got ${nowMs}`);
}

/** After this long untouched a bucket is full again, so forgetting it changes nothing. */
export function bucketLifetimeMs(ratePerSecond: number, burst: number): number {
  return Math.ceil((burst * 1000) / ratePerSecond) + 1000;
}

/**
 * Takes one token at `nowMs`. Nodes' clocks differ a little: a `nowMs` behind the bucket's last
 * refill refills nothing rather than moving the bucket back in time.
 */
export function takeFrom(bucket: Bucket | undefined, ratePerSecond: number, burst: number, nowMs: number): { bucket: Bucket; grant: TokenGrant } {
  let tokens = bucket?.tokens ?? burst;
  let at = bucket?.at ?? nowMs;
  if (nowMs > at) {
    tokens = Math.min(burst, tokens + ((nowMs - at) * ratePerSecond) / 1000);
    at = nowMs;
  }
  if (tokens >= 1) return { bucket: { tokens: tokens - 1, at }, grant: { ok: true } };
  return { bucket: { tokens, at }, grant: { ok: false, retryAfterMs: Math.ceil(((1 - tokens) * 1000) / ratePerSecond) } };
}

const PURGE_EVERY_MS = 60_000;

/** The in-process buckets of MemoryStore. */
export class MemoryBuckets {
  readonly #buckets = new Map<string, Bucket & { expiresAt: number }>();
  #lastPurge = -Infinity;

  take(key: string, ratePerSecond: number, burst: number, nowMs: number): TokenGrant {
    checkTokenRequest(key, ratePerSecond, burst, nowMs);
    this.#purge(nowMs);
    const stored = this.#buckets.get(key);
    const current = stored && stored.expiresAt > nowMs ? stored : undefined;
    const { bucket, grant } = takeFrom(current, ratePerSecond, burst, nowMs);
    // From the bucket's own time: a caller whose clock is behind must not shorten its life.
    this.#buckets.set(key, { ...bucket, expiresAt: bucket.at + bucketLifetimeMs(ratePerSecond, burst) });
    return grant;
  }

  #purge(nowMs: number): void {
    if (nowMs - this.#lastPurge < PURGE_EVERY_MS) return;
    this.#lastPurge = nowMs;
    for (const [key, bucket] of this.#buckets) if (bucket.expiresAt <= nowMs) this.#buckets.delete(key);
  }
}
