import { describe, expect, it } from 'vitest';
import { isOpen, localParts } from '../../src/auction/schedule.ts';
import type { Schedule } from '../../src/catalog/types.ts';

const at = (iso: string): number => {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`bad instant ${iso}`);
  return ms;
};
const MINUTE = 60_000;

describe('localParts', () => {
  it('gives the wall clock and weekday in the zone', () => {
    // Monday 23 Nov 2026, 20:00 UTC is already Tuesday morning in Auckland (NZDT, +13).
    expect(localParts('Pacific/Auckland', at('2026-11-23T20:00:00Z'))).toEqual({
      year: 2026, month: 11, day: 24, hour: 9, minute: 0, weekday: 'tue', date: '2026-11-24',
    });
    expect(localParts('America/Los_Angeles', at('2026-11-24T07:59:00Z'))).toMatchObject({
      date: '2026-11-23', hour: 23, minute: 59, weekday: 'mon',
    });
    expect(localParts('UTC', at('2026-11-24T00:00:00Z'))).toMatchObject({ date: '2026-11-24', hour: 0, weekday: 'tue' });
  });

  it('throws on an unknown timezone', () => {
    expect(() => localParts('Mars/Olympus_Mons', 0)).toThrow(RangeError);
  });
});

describe('isOpen', () => {
  it('is always open without a schedule', () => {
    expect(isOpen(null, at('2026-11-22T03:00:00Z'))).toBe(true);
  });

  it('without weekly hours is open every day except holidays', () => {
    const schedule: Schedule = { timezone: 'America/Los_Angeles', holidays: ['2026-12-25'] };
    expect(isOpen(schedule, at('2026-12-24T23:59:00-08:00'))).toBe(true);
    expect(isOpen(schedule, at('2026-12-25T00:00:00-08:00'))).toBe(false);
    expect(isOpen(schedule, at('2026-12-25T23:59:00-08:00'))).toBe(false);
    // 25 Dec 04:00 UTC is still 24 Dec in Los Angeles: holidays are local dates.
    expect(isOpen(schedule, at('2026-12-25T04:00:00Z'))).toBe(true);
  });

  describe('America/Los_Angeles weekday hours', () => {
    const schedule: Schedule = {
      timezone: 'America/Los_Angeles',
      weekly: { mon: [['08:00', '18:00']], tue: [['08:00', '18:00']], fri: [['08:00', '12:00'], ['13:00', '17:00']] },
      holidays: ['2026-12-25'],
    };

    it('opens at the start minute and closes at the end minute (PST)', () => {
      expect(isOpen(schedule, at('2026-11-23T07:59:00-08:00'))).toBe(false);
      expect(isOpen(schedule, at('2026-11-23T08:00:00-08:00'))).toBe(true);
      expect(isOpen(schedule, at('2026-11-23T17:59:59-08:00'))).toBe(true);
      expect(isOpen(schedule, at('2026-11-23T18:00:00-08:00'))).toBe(false);
    });

    it('follows daylight time in summer (PDT)', () => {
      // 15:30 UTC is 08:30 PDT (open); a fixed -08:00 offset would say 07:30 (closed).
      expect(isOpen(schedule, at('2026-07-06T15:30:00Z'))).toBe(true);
      expect(isOpen(schedule, at('2026-07-07T00:30:00Z'))).toBe(true); // 17:30 PDT Monday
      expect(isOpen(schedule, at('2026-07-07T01:00:00Z'))).toBe(false); // 18:00 PDT Monday
    });

    it('is closed on days missing from weekly', () => {
      expect(isOpen(schedule, at('2026-11-25T10:00:00-08:00'))).toBe(false); // Wednesday
      expect(isOpen(schedule, at('2026-11-22T10:00:00-08:00'))).toBe(false); // Sunday
    });

    it('supports several ranges a day', () => {
      expect(isOpen(schedule, at('2026-11-27T11:59:00-08:00'))).toBe(true);
      expect(isOpen(schedule, at('2026-11-27T12:30:00-08:00'))).toBe(false);
      expect(isOpen(schedule, at('2026-11-27T13:00:00-08:00'))).toBe(true);
    });

    it('is closed all day on a holiday', () => {
      expect(isOpen(schedule, at('2026-12-25T09:00:00-08:00'))).toBe(false); // a Friday
      expect(isOpen(schedule, at('2026-12-18T09:00:00-08:00'))).toBe(true); // the Friday before
    });

    it('uses the local weekday, not the UTC one', () => {
      // Monday 17:00 PST is Tuesday 01:00 UTC.
      expect(isOpen(schedule, at('2026-11-24T01:00:00Z'))).toBe(true);
    });
  });

  describe('overnight ranges', () => {
    const schedule: Schedule = {
      timezone: 'America/Chicago',
      weekly: { mon: [['22:00', '02:00']], sun: [['23:00', '01:00']] },
      holidays: ['2026-12-01'],
    };

    it('covers the evening of the day it starts on', () => {
      expect(isOpen(schedule, at('2026-11-23T21:59:00-06:00'))).toBe(false);
      expect(isOpen(schedule, at('2026-11-23T22:00:00-06:00'))).toBe(true);
      expect(isOpen(schedule, at('2026-11-23T23:59:00-06:00'))).toBe(true);
    });

    it('runs past midnight into the next day', () => {
      expect(isOpen(schedule, at('2026-11-24T00:00:00-06:00'))).toBe(true);
      expect(isOpen(schedule, at('2026-11-24T01:59:00-06:00'))).toBe(true);
      expect(isOpen(schedule, at('2026-11-24T02:00:00-06:00'))).toBe(false);
      // Tuesday has no range of its own: its evening stays closed.
      expect(isOpen(schedule, at('2026-11-24T22:30:00-06:00'))).toBe(false);
    });

    it('wraps from sunday into monday', () => {
      expect(isOpen(schedule, at('2026-11-22T23:30:00-06:00'))).toBe(true); // Sunday
      expect(isOpen(schedule, at('2026-11-23T00:30:00-06:00'))).toBe(true); // Monday
      expect(isOpen(schedule, at('2026-11-23T01:00:00-06:00'))).toBe(false);
    });

    it('a holiday cuts off the after-midnight tail', () => {
      // Monday 30 Nov opens at 22:00; Tuesday 1 Dec is a holiday, so it closes at midnight.
      expect(isOpen(schedule, at('2026-11-30T23:30:00-06:00'))).toBe(true);
      expect(isOpen(schedule, at('2026-12-01T00:30:00-06:00'))).toBe(false);
    });

    it('treats 24:00 as the end of the day', () => {
      const late: Schedule = { timezone: 'UTC', weekly: { mon: [['20:00', '24:00']] } };
      expect(isOpen(late, at('2026-11-23T23:59:00Z'))).toBe(true);
      expect(isOpen(late, at('2026-11-24T00:00:00Z'))).toBe(false);
      const allDay: Schedule = { timezone: 'UTC', weekly: { mon: [['00:00', '24:00']] } };
      expect(isOpen(allDay, at('2026-11-23T00:00:00Z'))).toBe(true);
      expect(isOpen(allDay, at('2026-11-23T23:59:59Z'))).toBe(true);
      expect(isOpen(allDay, at('2026-11-24T00:00:00Z'))).toBe(false);
    });
  });

  describe('America/New_York DST transitions', () => {
    it('spring forward (Sun 2026-03-08): wall-clock hours after the jump use EDT', () => {
      const schedule: Schedule = { timezone: 'America/New_York', weekly: { sun: [['01:00', '04:00'], ['08:00', '09:00']] } };
      expect(isOpen(schedule, at('2026-03-08T06:30:00Z'))).toBe(true); // 01:30 EST
      expect(isOpen(schedule, at('2026-03-08T07:30:00Z'))).toBe(true); // 03:30 EDT
      expect(isOpen(schedule, at('2026-03-08T08:00:00Z'))).toBe(false); // 04:00 EDT
      expect(isOpen(schedule, at('2026-03-08T12:30:00Z'))).toBe(true); // 08:30 EDT
      expect(isOpen(schedule, at('2026-03-08T13:30:00Z'))).toBe(false); // 09:30 EDT (08:30 in EST)
      // 01:00-04:00 local is only two real hours that day.
      expect(openMinutes(schedule, at('2026-03-08T05:00:00Z'), at('2026-03-08T09:00:00Z'))).toBe(120);
    });

    it('spring forward: a range inside the skipped hour never opens', () => {
      const schedule: Schedule = { timezone: 'America/New_York', weekly: { sun: [['02:00', '03:00']] } };
      expect(openMinutes(schedule, at('2026-03-08T05:00:00Z'), at('2026-03-08T10:00:00Z'))).toBe(0);
    });

    it('fall back (Sun 2026-11-01): the repeated hour is open both times', () => {
      const schedule: Schedule = { timezone: 'America/New_York', weekly: { sun: [['01:00', '02:00'], ['09:00', '17:00']] } };
      expect(isOpen(schedule, at('2026-11-01T04:59:00Z'))).toBe(false); // 00:59 EDT
      expect(isOpen(schedule, at('2026-11-01T05:30:00Z'))).toBe(true); // 01:30 EDT
      expect(isOpen(schedule, at('2026-11-01T06:30:00Z'))).toBe(true); // 01:30 EST
      expect(isOpen(schedule, at('2026-11-01T07:00:00Z'))).toBe(false); // 02:00 EST
      expect(openMinutes(schedule, at('2026-11-01T04:00:00Z'), at('2026-11-01T08:00:00Z'))).toBe(120);
      // After the change, 09:00 local is 14:00 UTC.
      expect(isOpen(schedule, at('2026-11-01T13:30:00Z'))).toBe(false);
      expect(isOpen(schedule, at('2026-11-01T14:00:00Z'))).toBe(true);
      expect(isOpen(schedule, at('2026-11-01T21:59:00Z'))).toBe(true);
      expect(isOpen(schedule, at('2026-11-01T22:00:00Z'))).toBe(false);
    });
  });

  describe('non-US zones', () => {
    it('Asia/Kolkata (+05:30, no DST)', () => {
      const schedule: Schedule = { timezone: 'Asia/Kolkata', weekly: { mon: [['09:00', '17:30']] } };
      expect(isOpen(schedule, at('2026-11-23T03:29:00Z'))).toBe(false);
      expect(isOpen(schedule, at('2026-11-23T03:30:00Z'))).toBe(true);
      expect(isOpen(schedule, at('2026-11-23T11:59:00Z'))).toBe(true);
      expect(isOpen(schedule, at('2026-11-23T12:00:00Z'))).toBe(false);
    });

    it('Europe/Berlin switches to summer time on its own date (2026-03-29)', () => {
      const schedule: Schedule = { timezone: 'Europe/Berlin', weekly: { mon: [['09:00', '10:00']] } };
      expect(isOpen(schedule, at('2026-03-23T08:30:00Z'))).toBe(true); // 09:30 CET
      expect(isOpen(schedule, at('2026-03-30T08:30:00Z'))).toBe(false); // 10:30 CEST
      expect(isOpen(schedule, at('2026-03-30T07:30:00Z'))).toBe(true); // 09:30 CEST
    });

    it('Pacific/Auckland is a day ahead of UTC', () => {
      const schedule: Schedule = { timezone: 'Pacific/Auckland', weekly: { tue: [['09:00', '10:00']] }, holidays: [] };
      expect(isOpen(schedule, at('2026-11-23T20:30:00Z'))).toBe(true); // Tue 09:30 NZDT
    });
  });

  it('stays closed (does not throw) for an unusable timezone', () => {
    expect(isOpen({ timezone: 'Not/A_Zone' }, at('2026-11-23T12:00:00Z'))).toBe(false);
  });
});

function openMinutes(schedule: Schedule, fromMs: number, toMs: number): number {
  let count = 0;
  for (let t = fromMs; t < toMs; t += MINUTE) if (isOpen(schedule, t)) count += 1;
  return count;
}
