// Section 5.3: which answers count as bids, and at what amount. All amounts are cents.
import type { Campaign } from '../catalog/types.ts';
import { toCents } from '../catalog/money.ts';

export type BidDecision =
  | { valid: true; amount: number; capped: boolean }
  | { valid: false; reason: 'not_positive' | 'below_min_bid' };

export function judgeBid(campaign: Campaign, offeredCents: number): BidDecision {
  if (!(offeredCents > 0)) return { valid: false, reason: 'not_positive' };
  if (campaign.pricing.type === 'fixed') return { valid: true, amount: offeredCents, capped: false };
  const { min_bid, max_bid } = campaign.pricing;
  if (min_bid !== undefined && offeredCents < toCents(min_bid)) return { valid: false, reason: 'below_min_bid' };
  if (max_bid !== undefined && offeredCents > toCents(max_bid)) return { valid: true, amount: toCents(max_bid), capped: true };
  return { valid: true, amount: offeredCents, capped: false };
}

/** The least a sale to this campaign could cost: used to tell whether a spend cap still has room. */
export function cheapestSale(campaign: Campaign): number {
  if (campaign.pricing.type === 'fixed') return toCents(campaign.pricing.price);
  return Math.max(1, toCents(campaign.pricing.min_bid ?? 0));
}
