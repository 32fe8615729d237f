// The pure rules of returns: when a sale may still be returned, and how far back the exchange
// looks for a record proving a duplicate.

const DAY_MS = 86_400_000;

/** The last instant (epoch ms) at which a sale made at `soldAt` may be returned. */
export function returnWindowClosesAt(soldAt: number, windowDays: number): number {
  return soldAt + windowDays * DAY_MS;
}

export function isReturnable(soldAt: number, now: number, windowDays: number): boolean {
  return now <= returnWindowClosesAt(soldAt, windowDays);
}

/**
 * A buyer's earlier purchase of the consumer proves a duplicate if it falls inside the window
 * the buyer was promised protection for: its campaign's `dedupe_days` or the vertical's
 * `duplicate_days`, whichever reaches further back.
 */
export function purchaseDuplicateWindowDays(campaignDedupeDays: number, verticalDuplicateDays: number): number {
  return Math.max(campaignDedupeDays, verticalDuplicateDays);
}

/** Earliest instant of a look-back window of `days` ending at `at` (exclusive end). */
export function lookBackFrom(at: number, days: number): number {
  return at - days * DAY_MS;
}
