// Campaign opening hours, evaluated in the campaign's own wall-clock time. Everything goes
// through Intl so DST transitions are whatever the IANA database says they are; we never add
// fixed offsets ourselves.

import type { Schedule, TimeRange, Weekday } from '../catalog/types.ts';

export interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  weekday: Weekday;
  /** YYYY-MM-DD */
  date: string;
}

const WEEKDAYS: readonly Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

// Building a DateTimeFormat costs far more than using one, and the auction asks per campaign per
// lead; the set of timezones in a catalog is small, so the cache is unbounded.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timezone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timezone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
    formatters.set(timezone, formatter);
  }
  return formatter;
}

/**
 * Wall-clock date and time at `nowMs` in `timezone`. Throws RangeError for an unknown timezone
 * (the admin schema refuses those, so reaching it means a corrupt catalog row).
 */
export function localParts(timezone: string, nowMs: number): LocalParts {
  // Every auction asks this for each campaign's caps and schedule; within one UTC minute the
  // answer cannot change (offsets are whole minutes), so formatting once a minute per zone is enough.
  const minute = Math.floor(nowMs / 60_000);
  const cached = lastParts.get(timezone);
  if (cached && cached.minute === minute) return cached.parts;
  const parts = formatLocalParts(timezone, nowMs);
  lastParts.set(timezone, { minute, parts });
  return parts;
}

const lastParts = new Map<string, { minute: number; parts: LocalParts }>();

function formatLocalParts(timezone: string, nowMs: number): LocalParts {
  let year = 0;
  let month = 0;
  let day = 0;
  let hour = 0;
  let minute = 0;
  for (const part of formatterFor(timezone).formatToParts(nowMs)) {
    switch (part.type) {
      case 'year': year = Number(part.value); break;
      case 'month': month = Number(part.value); break;
      case 'day': day = Number(part.value); break;
      case 'hour': hour = Number(part.value); break;
      case 'minute': minute = Number(part.value); break;
      default: break;
    }
  }
  // Some ICU builds still print midnight as "24" despite h23.
  if (hour === 24) hour = 0;
  // The weekday follows from the local date; deriving it avoids depending on locale strings.
  const weekday = WEEKDAYS[new Date(Date.UTC(year, month - 1, day)).getUTCDay()] as Weekday;
  return { year, month, day, hour, minute, weekday, date: isoDate(year, month, day) };
}

/**
 * Whether a campaign accepts leads at `nowMs`.
 *
 * Overnight ranges (end <= start) belong to the day they start on: mon ["22:00","02:00"] is open
 * Monday 22:00 until Tuesday 02:00, whatever Tuesday's own ranges say. A holiday closes exactly
 * its own local date, so it also cuts off the after-midnight tail of the previous evening's
 * range; a range that *starts* on a holiday is closed until midnight and its tail on the next
 * (ordinary) day is open again.
 *
 * Times are wall-clock minutes: on a spring-forward day the skipped hour simply never occurs,
 * and on a fall-back day the repeated hour is open (or closed) both times.
 */
export function isOpen(schedule: Schedule | null, nowMs: number): boolean {
  if (schedule === null || schedule === undefined) return true;
  let local: LocalParts;
  try {
    local = localParts(schedule.timezone, nowMs);
  } catch {
    // An unusable timezone must not take the whole auction down; the campaign just stays shut.
    return false;
  }
  if (schedule.holidays?.includes(local.date)) return false;
  const weekly = schedule.weekly;
  if (weekly === undefined || weekly === null) return true;

  const minuteOfDay = local.hour * 60 + local.minute;
  for (const range of weekly[local.weekday] ?? []) {
    const bounds = parseRange(range);
    if (bounds === null) continue;
    const [start, end] = bounds;
    if (end > start ? minuteOfDay >= start && minuteOfDay < end : minuteOfDay >= start) return true;
  }
  const yesterday = WEEKDAYS[(WEEKDAYS.indexOf(local.weekday) + 6) % 7] as Weekday;
  for (const range of weekly[yesterday] ?? []) {
    const bounds = parseRange(range);
    if (bounds === null) continue;
    const [start, end] = bounds;
    if (end <= start && minuteOfDay < end) return true;
  }
  return false;
}

/** Minutes since local midnight for [start, end]; null for a malformed range (treated as closed). */
function parseRange(range: TimeRange): [number, number] | null {
  if (!Array.isArray(range) || range.length !== 2) return null;
  const start = parseClock(range[0], false);
  const end = parseClock(range[1], true);
  return start === null || end === null ? null : [start, end];
}

function parseClock(text: unknown, allowEndOfDay: boolean): number | null {
  if (typeof text !== 'string') return null;
  const match = /^(\d{2}):(\d{2})$/.exec(text);
  if (match === null) return null;
  const hours = Number(match[1]);
  const minutes = Number(match[2]);
  if (hours === 24 && minutes === 0) return allowEndOfDay ? 1440 : null;
  if (hours > 23 || minutes > 59) return null;
  return hours * 60 + minutes;
}

function isoDate(year: number, month: number, day: number): string {
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

/** The instant the local day (in `timezone`) containing nowMs began. */
export function startOfLocalDay(timezone: string, nowMs: number): number {
  const parts = localParts(timezone, nowMs);
  const intoDay = ((parts.hour * 60 + parts.minute) * 60 + new Date(nowMs).getUTCSeconds()) * 1000 + (nowMs % 1000);
  return nowMs - intoDay;
}
