// Cap counters are bucketed by the campaign's local calendar (a buyer's "100 leads a day" means
// their day, not UTC's). The key is the bucket's name; the counter store appends it to the
// campaign id and expires it with periodTtlSeconds.

import type { CapPeriod } from '../catalog/types.ts';
import { localParts } from './schedule.ts';

const DAY_SECONDS = 86_400;

/**
 * 'hour:2026-11-25T08' | 'day:2026-11-25' | 'week:2026-W48' | 'month:2026-11' for the local
 * time at `nowMs` in `timezone` (pass 'UTC' for a campaign without a schedule).
 *
 * Hours are wall-clock hours: on a fall-back day the repeated local hour shares one counter
 * (the cap is briefly stricter, never looser); on a spring-forward day the skipped hour has none.
 * Throws RangeError for an unknown timezone.
 */
export function periodKey(period: CapPeriod, timezone: string, nowMs: number): string {
  const local = localParts(timezone, nowMs);
  switch (period) {
    case 'hour':
      return `hour:${local.date}T${pad2(local.hour)}`;
    case 'day':
      return `day:${local.date}`;
    case 'week': {
      const { weekYear, week } = isoWeek(local.year, local.month, local.day);
      return `week:${String(weekYear).padStart(4, '0')}-W${pad2(week)}`;
    }
    case 'month':
      return `month:${local.date.slice(0, 7)}`;
    default:
      throw new RangeError(`unknown cap period: ${String(period)}`);
  }
}

/**
 * How long a counter should live: its period's longest length plus a day, so a counter is
 * still readable (for status pages and late releases of reservations) after its period ends,
 * whatever the offset between the campaign's timezone and the store's clock.
 */
export function periodTtlSeconds(period: CapPeriod): number {
  switch (period) {
    case 'hour':
      return 3_600 + DAY_SECONDS;
    case 'day':
      return DAY_SECONDS + DAY_SECONDS;
    case 'week':
      return 7 * DAY_SECONDS + DAY_SECONDS;
    case 'month':
      return 32 * DAY_SECONDS + DAY_SECONDS;
    default:
      throw new RangeError(`unknown cap period: ${String(period)}`);
  }
}

/**
 * ISO-8601 week of a calendar date: weeks start on Monday and belong to the year holding their
 * Thursday, so 2027-01-01 (a Friday) is in 2026-W53 and 2025-12-29 (a Monday) in 2026-W01.
 */
export function isoWeek(year: number, month: number, day: number): { weekYear: number; week: number } {
  const date = Date.UTC(year, month - 1, day);
  const isoDayOfWeek = ((new Date(date).getUTCDay() + 6) % 7) + 1; // Mon=1 .. Sun=7
  const thursday = new Date(date + (4 - isoDayOfWeek) * DAY_SECONDS * 1000);
  const weekYear = thursday.getUTCFullYear();
  const dayOfYear = Math.floor((thursday.getTime() - Date.UTC(weekYear, 0, 1)) / (DAY_SECONDS * 1000)) + 1;
  return { weekYear, week: Math.floor((dayOfYear - 1) / 7) + 1 };
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}
