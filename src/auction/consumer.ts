// What the exchange remembers about a consumer (by contact hash) decides who may see the lead:
// the affiliate's own resends (section 3.1 `duplicate`), a buyer's recent purchases (dedupe_days)
// and another buyer's exclusivity (section 5.7). Stored as "<epoch ms>|<ref>" stamps.

export interface Stamp {
  at: number;
  /** A lead id for "sent", a buyer id for "exclusive"; empty for "bought". */
  ref: string;
}

const DAY_MS = 86_400_000;

export function stamp(at: number, ref = ''): string {
  return `${at}|${ref}`;
}

export function parseStamp(value: string | null | undefined): Stamp | null {
  if (!value) return null;
  const bar = value.indexOf('|');
  const at = Number(bar === -1 ? value : value.slice(0, bar));
  if (!Number.isFinite(at)) return null;
  return { at, ref: bar === -1 ? '' : value.slice(bar + 1) };
}

function within(s: Stamp, nowMs: number, days: number): boolean {
  return days > 0 && nowMs - s.at < days * DAY_MS;
}

/** The affiliate already sent this consumer (in another lead) within the vertical's window. */
export function isResend(sent: Array<Stamp | null>, leadId: string, nowMs: number, duplicateDays: number): boolean {
  return sent.some((s) => s !== null && s.ref !== leadId && within(s, nowMs, duplicateDays));
}

/**
 * A send stamped within the vertical's window, whatever its lead: the window runs from that first
 * send, so a later send of the same lead (its post after its ping) must not restamp it.
 */
export function sentWithin(sent: Stamp | null, nowMs: number, duplicateDays: number): boolean {
  return sent !== null && within(sent, nowMs, duplicateDays);
}

/** The buyer holding this consumer exclusively, if the window is still open. */
export function exclusiveHolder(exclusive: Array<Stamp | null>, nowMs: number, exclusiveDays: number): string | null {
  for (const s of exclusive) if (s !== null && within(s, nowMs, exclusiveDays)) return s.ref;
  return null;
}

/** The buyer bought this consumer (either hash) within the campaign's dedupe window. */
export function boughtWithin(bought: Array<Stamp | null>, nowMs: number, dedupeDays: number): boolean {
  return bought.some((s) => s !== null && within(s, nowMs, dedupeDays));
}

export function daysToSeconds(days: number): number {
  return Math.max(1, Math.ceil(days * 86_400));
}
