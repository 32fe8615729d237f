// Per-affiliate request rate on the lead endpoints (a token bucket per affiliate in the store,
// so every exchange node draws from the same bucket, leased a few tokens at a time by each node:
// src/store/token-leases.ts). Runs after authentication: it needs to know whose bucket, and an
// unknown key is a 401 whatever the rate.
import type { MiddlewareHandler } from 'hono';
import type { Affiliate } from '../catalog/types.ts';
import type { Clock } from '../clock/clock.ts';
import { TooManyRequests } from '../errors/problems.ts';
import type { Store } from '../store/store.ts';
import { TokenLeases } from '../store/token-leases.ts';
import type { AuthVariables } from './auth.ts';

export interface RateLimit {
  perSecond: number;
  burst: number;
}

/** Two seconds' worth: room for an affiliate's natural jitter without doubling its rate for long. */
export function defaultBurst(perSecond: number): number {
  return Math.max(1, Math.ceil(perSecond * 2));
}

/** The exchange-wide default from configuration; a rate of 0 means none. */
export function configuredRateLimit(config: { AFFILIATE_RATE_PER_S: number; AFFILIATE_RATE_BURST?: number | undefined }): RateLimit | null {
  if (config.AFFILIATE_RATE_PER_S <= 0) return null;
  return { perSecond: config.AFFILIATE_RATE_PER_S, burst: config.AFFILIATE_RATE_BURST ?? defaultBurst(config.AFFILIATE_RATE_PER_S) };
}

/** An affiliate's own rate wins over the default; its burst, when not set, follows its own rate. */
export function rateLimitOf(affiliate: Affiliate, fallback: RateLimit | null): RateLimit | null {
  const perSecond = affiliate.rate_limit_per_s ?? null;
  const burst = affiliate.rate_limit_burst ?? null;
  if (perSecond !== null) return { perSecond, burst: burst ?? defaultBurst(perSecond) };
  if (fallback === null) return null;
  return { perSecond: fallback.perSecond, burst: burst ?? fallback.burst };
}

export function limitAffiliateRate(store: Store, clock: Clock, fallback: RateLimit | null): MiddlewareHandler<{ Variables: AuthVariables }> {
  // Per app, that is per node: the node's leases of each affiliate's bucket.
  const leases = new TokenLeases(store, { now: () => clock.now() });
  return async (c, next) => {
    const affiliate = c.get('affiliate');
    const limit = rateLimitOf(affiliate, fallback);
    if (limit !== null) {
      const grant = await leases.take(`affiliate:${affiliate.id}`, limit.perSecond, limit.burst);
      if (!grant.ok) {
        throw new TooManyRequests(
          `Affiliate ${affiliate.id} may send ${limit.perSecond} requests per second (bursts of ${limit.burst}); retry later`,
          Math.max(1, Math.ceil(grant.retryAfterMs / 1000)),
        );
      }
    }
    await next();
  };
}
