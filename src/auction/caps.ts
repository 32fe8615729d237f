// Cap counters: one integer per campaign, period instance and measure. Keys carry the local
// period (in the campaign's timezone) so a new day starts a new counter by itself.
import type { Campaign, CapPeriod } from '../catalog/types.ts';
import type { CounterSpec } from '../store/store.ts';
import { toCents } from '../catalog/money.ts';
import { periodKey, periodTtlSeconds } from './periods.ts';

export interface CapCounter {
  key: string;
  period: CapPeriod;
  measure: 'leads' | 'spend';
  /** Leads, or cents for spend. */
  limit: number;
  ttlSeconds: number;
}

export function campaignTimezone(campaign: Campaign): string {
  return campaign.schedule?.timezone ?? 'UTC';
}

/**
 * The campaign's cap counters at `nowMs`. Every auction asks this of every candidate; the answer
 * only changes when a period does, and periods turn on whole minutes of UTC (every timezone's
 * offset is whole minutes), so it is made once a minute per campaign object and shared: callers
 * must not change it. (The catalog replaces a campaign's object when the campaign changes.)
 */
export function capCounters(campaign: Campaign, nowMs: number): readonly CapCounter[] {
  const minute = Math.floor(nowMs / 60_000);
  const known = countersByCampaign.get(campaign);
  if (known !== undefined && known.minute === minute) return known.counters;
  const counters = makeCapCounters(campaign, nowMs);
  countersByCampaign.set(campaign, { minute, counters });
  return counters;
}

const countersByCampaign = new WeakMap<Campaign, { minute: number; counters: readonly CapCounter[] }>();

function makeCapCounters(campaign: Campaign, nowMs: number): readonly CapCounter[] {
  const timezone = campaignTimezone(campaign);
  const counters: CapCounter[] = [];
  for (const cap of campaign.caps) {
    const base = `cap:${campaign.id}:${periodKey(cap.period, timezone, nowMs)}`;
    const ttlSeconds = periodTtlSeconds(cap.period);
    if (cap.leads !== undefined) counters.push(Object.freeze({ key: `${base}:leads`, period: cap.period, measure: 'leads', limit: cap.leads, ttlSeconds }));
    if (cap.spend !== undefined) counters.push(Object.freeze({ key: `${base}:spend`, period: cap.period, measure: 'spend', limit: toCents(cap.spend), ttlSeconds }));
  }
  return Object.freeze(counters);
}

/**
 * Is any cap already reached? `cheapestSaleCents` is the least this campaign could pay for the
 * lead (its fixed price, or its min_bid / one cent), so a spend cap with less left is reached.
 */
export function reachedCap(counters: readonly CapCounter[], values: number[], cheapestSaleCents: number): CapCounter | null {
  for (let i = 0; i < counters.length; i++) {
    const counter = counters[i]!;
    const used = values[i] ?? 0;
    const next = counter.measure === 'leads' ? 1 : cheapestSaleCents;
    if (used + next > counter.limit) return counter;
  }
  return null;
}

/** What a sale at `priceCents` adds to each counter, with the limits the store enforces atomically. */
export function capReservation(counters: readonly CapCounter[], priceCents: number): CounterSpec[] {
  return counters.map((counter) => ({
    key: counter.key,
    amount: counter.measure === 'leads' ? 1 : priceCents,
    limit: counter.limit,
    ttlSeconds: counter.ttlSeconds,
  }));
}

export interface CapAlert {
  counter: CapCounter;
  /** Percent of the cap reached: 80 (soft) or 100 (hard). */
  level: 80 | 100;
  used: number;
}

const ALERT_LEVELS = [80, 100] as const;

/**
 * The alerts a sale raises: a cap crossing 80 % or reaching 100 % with this very sale. `values`
 * are the counters right after the sale's reservation, so only the sale that crossed alerts.
 */
export function capAlerts(counters: readonly CapCounter[], values: number[], priceCents: number): CapAlert[] {
  const alerts: CapAlert[] = [];
  counters.forEach((counter, i) => {
    const after = values[i];
    if (after === undefined) return;
    const before = after - (counter.measure === 'leads' ? 1 : priceCents);
    for (const level of ALERT_LEVELS) {
      const threshold = (counter.limit * level) / 100;
      if (before < threshold && after >= threshold) alerts.push({ counter, level, used: after });
    }
  });
  return alerts;
}
