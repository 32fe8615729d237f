// A buyer's budget (section 5.1 and 5.5): prepaid balance plus credit limit, in cents. A buyer
// without a balance is not budgeted (invoiced afterwards): no limit.
import type { Buyer, Campaign } from '../catalog/types.ts';
import { toCents } from '../catalog/money.ts';
import { cheapestSale } from './bids.ts';

export function budgetLimit(buyer: Buyer): number | null {
  if (buyer.balance === null) return null;
  return toCents(buyer.balance) + toCents(buyer.credit_limit);
}

/** The most this campaign could pay for one lead; unknown without max_bid, so its least. */
export function dearestSale(campaign: Campaign): number {
  if (campaign.pricing.type === 'fixed') return toCents(campaign.pricing.price);
  if (campaign.pricing.max_bid !== undefined) return toCents(campaign.pricing.max_bid);
  return cheapestSale(campaign);
}

/** Section 5.1: the buyer's balance must cover the campaign's maximum price before it is pinged. */
export function budgetCovers(buyer: Buyer, spentCents: number, campaign: Campaign): boolean {
  const limit = budgetLimit(buyer);
  return limit === null || spentCents + dearestSale(campaign) <= limit;
}

export function paceIntervalMs(campaign: Campaign): number | null {
  return campaign.max_per_minute ? Math.ceil(60_000 / campaign.max_per_minute) : null;
}
