import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isoWeek, periodKey, periodTtlSeconds } from '../../src/auction/periods.ts';
import type { CapPeriod } from '../../src/catalog/types.ts';

const at = (iso: string): number => Date.parse(iso);
const keys = (timezone: string, nowMs: number) =>
  (['hour', 'day', 'week', 'month'] as const).map((period) => periodKey(period, timezone, nowMs));
const DAY_MS = 86_400_000;

describe('periodKey', () => {
  it('names each period in UTC', () => {
    expect(keys('UTC', at('2026-11-25T08:15:00Z'))).toEqual([
      'hour:2026-11-25T08', 'day:2026-11-25', 'week:2026-W48', 'month:2026-11',
    ]);
  });

  it("counts in the campaign's timezone around local midnight", () => {
    // 23:30 on New Year's Eve in Los Angeles is already 07:30 on 1 January in UTC.
    const instant = at('2026-12-31T23:30:00-08:00');
    expect(keys('America/Los_Angeles', instant)).toEqual([
      'hour:2026-12-31T23', 'day:2026-12-31', 'week:2026-W53', 'month:2026-12',
    ]);
    expect(keys('UTC', instant)).toEqual([
      'hour:2027-01-01T07', 'day:2027-01-01', 'week:2026-W53', 'month:2027-01',
    ]);
  });

  it('switches day at local midnight in a half-hour zone', () => {
    expect(periodKey('day', 'Asia/Kolkata', at('2026-11-24T18:29:59Z'))).toBe('day:2026-11-24');
    expect(periodKey('day', 'Asia/Kolkata', at('2026-11-24T18:30:00Z'))).toBe('day:2026-11-25');
    expect(periodKey('hour', 'Asia/Kolkata', at('2026-11-24T18:30:00Z'))).toBe('hour:2026-11-25T00');
  });

  it('uses ISO-8601 week-years at year boundaries', () => {
    // 2026 starts on a Thursday, so it has 53 ISO weeks; 1-3 Jan 2027 still belong to 2026-W53.
    expect(periodKey('week', 'UTC', at('2026-12-28T00:00:00Z'))).toBe('week:2026-W53'); // Monday
    expect(periodKey('week', 'UTC', at('2026-12-31T12:00:00Z'))).toBe('week:2026-W53');
    expect(periodKey('week', 'UTC', at('2027-01-01T12:00:00Z'))).toBe('week:2026-W53');
    expect(periodKey('week', 'UTC', at('2027-01-03T23:59:59Z'))).toBe('week:2026-W53'); // Sunday
    expect(periodKey('week', 'UTC', at('2027-01-04T00:00:00Z'))).toBe('week:2027-W01');
    // ...while the same instant is still Sunday 3 Jan in Los Angeles.
    expect(periodKey('week', 'America/Los_Angeles', at('2027-01-04T00:00:00Z'))).toBe('week:2026-W53');
    // The week-year can also run ahead of the calendar year.
    expect(periodKey('week', 'UTC', at('2025-12-29T12:00:00Z'))).toBe('week:2026-W01');
    expect(periodKey('week', 'UTC', at('2025-12-28T12:00:00Z'))).toBe('week:2025-W52');
    expect(periodKey('week', 'UTC', at('2021-01-03T12:00:00Z'))).toBe('week:2020-W53');
  });

  it('shares one hour counter across the repeated fall-back hour', () => {
    expect(periodKey('hour', 'America/New_York', at('2026-11-01T05:30:00Z'))).toBe('hour:2026-11-01T01'); // EDT
    expect(periodKey('hour', 'America/New_York', at('2026-11-01T06:30:00Z'))).toBe('hour:2026-11-01T01'); // EST
    expect(periodKey('hour', 'America/New_York', at('2026-11-01T07:30:00Z'))).toBe('hour:2026-11-01T02');
  });

  it('agrees with a reference ISO week (week 1 holds 4 January) on any date', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1990, 0, 1) / DAY_MS, max: Date.UTC(2100, 0, 1) / DAY_MS }), (dayNumber) => {
        const ms = dayNumber * DAY_MS + 12 * 3_600_000;
        const d = new Date(ms);
        const expected = referenceIsoWeek(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate());
        expect(periodKey('week', 'UTC', ms)).toBe(`week:${expected.weekYear}-W${String(expected.week).padStart(2, '0')}`);
        expect(isoWeek(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate())).toEqual(expected);
      }),
    );
  });
});

describe('periodTtlSeconds', () => {
  it.each<[CapPeriod, number]>([
    ['hour', 3_600 + 86_400],
    ['day', 2 * 86_400],
    ['week', 8 * 86_400],
    ['month', 33 * 86_400],
  ])('%s outlives its period by a day', (period, seconds) => {
    expect(periodTtlSeconds(period)).toBe(seconds);
  });
});

// Independent formulation: week 1 starts on the Monday on or before 4 January.
function referenceIsoWeek(year: number, month: number, day: number): { weekYear: number; week: number } {
  const mondayOfWeek1 = (y: number): number => {
    const jan4 = Date.UTC(y, 0, 4);
    const dow = new Date(jan4).getUTCDay() || 7;
    return jan4 - (dow - 1) * DAY_MS;
  };
  const date = Date.UTC(year, month - 1, day);
  for (const y of [year + 1, year, year - 1]) {
    const start = mondayOfWeek1(y);
    if (date >= start) return { weekYear: y, week: Math.floor((date - start) / (7 * DAY_MS)) + 1 };
  }
  throw new Error('unreachable');
}
