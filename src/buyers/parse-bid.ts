// Section 4.1: turns a buyer's ping answer into a bid (in cents) or a no-bid with its reason.
// Anything that is not exactly the documented shape is a no-bid: a malformed answer must never
// become a sale at a price the buyer did not mean.
import type { NoBidReason } from './buyer-client.ts';

export type BidAnswer =
  | { kind: 'bid'; amount: number; bidId: string | null }
  | { kind: 'no_bid'; reason: NoBidReason; detail?: string };

/**
 * Dollars to integer cents, floored: a buyer bidding 21.999 pays 21.99, never more than it bid.
 * The epsilon absorbs binary float error (0.29 * 100 = 28.999999999999996) without rounding a
 * genuine sub-cent fraction up.
 */
export function dollarsToCentsFloor(dollars: number): number {
  return Math.floor(dollars * 100 + 1e-6);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseBidAnswer(status: number, body: string | null): BidAnswer {
  if (status >= 300 && status < 400) return { kind: 'no_bid', reason: 'redirect', detail: `HTTP ${status}` };
  if (status < 200 || status >= 300) return { kind: 'no_bid', reason: 'http_status', detail: `HTTP ${status}` };
  if (status === 204) return { kind: 'no_bid', reason: 'no_bid' };

  if (body === null || body.trim() === '') return { kind: 'no_bid', reason: 'invalid_body', detail: 'empty body' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { kind: 'no_bid', reason: 'invalid_body', detail: 'not JSON' };
  }
  if (!isPlainObject(parsed)) return { kind: 'no_bid', reason: 'invalid_body', detail: 'not a JSON object' };
  if (!('bid' in parsed)) return { kind: 'no_bid', reason: 'invalid_body', detail: 'missing bid' };

  const bid = parsed.bid;
  if (bid === null || bid === 0) return { kind: 'no_bid', reason: 'no_bid' };
  // A string like "21.00" is refused rather than coerced: the contract says number, and lenient
  // coercion is how "1e3" or "21,50" turn into surprising prices.
  if (typeof bid !== 'number' || !Number.isFinite(bid) || bid < 0) {
    return { kind: 'no_bid', reason: 'invalid_body', detail: 'bid is not a non-negative number' };
  }
  const amount = dollarsToCentsFloor(bid);
  if (!Number.isSafeInteger(amount)) return { kind: 'no_bid', reason: 'invalid_body', detail: 'bid out of range' };
  if (amount === 0) return { kind: 'no_bid', reason: 'no_bid', detail: 'bid below one cent' };

  const rawId = parsed.bid_id;
  let bidId: string | null;
  if (rawId === undefined || rawId === null) bidId = null;
  else if (typeof rawId === 'string') bidId = rawId;
  else if (typeof rawId === 'number' && Number.isFinite(rawId)) bidId = String(rawId);
  else return { kind: 'no_bid', reason: 'invalid_body', detail: 'bid_id is not a string or number' };

  return { kind: 'bid', amount, bidId };
}
