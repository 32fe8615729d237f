// What a two-phase ping leaves in the store for its post: the bids and reservations, never
// personal data (a ping has none).
import type { SaleMode } from '../catalog/types.ts';
import type { ContactHashes } from '../lead/contact.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { CollectedBid } from './types.ts';

export interface HeldBid {
  campaign_id: string;
  amount: number;
  bid_id: string | null;
}

export interface HoldPayload {
  lead_id: string;
  ping_id: string;
  affiliate_id: string;
  vertical: string;
  data: Record<string, unknown>;
  hashes: ContactHashes;
  min_payout_cents: number | null;
  expires_at: number;
  mode: SaleMode;
  payout_cents: number;
  winners: Array<HeldBid & { reservation_id: string }>;
  remaining: HeldBid[];
}

/** The hold record outlives its expiry by this much so a late post gets 410 from the store alone. */
export const HOLD_GRACE_MS = 10 * 60_000;

/** Scoped by affiliate: another affiliate's ping id is simply not found. */
export function holdKey(affiliateId: string, pingId: string): string {
  return `hold:${affiliateId}:${pingId}`;
}

export function toHeldBid(bid: CollectedBid): HeldBid {
  return { campaign_id: bid.campaignId, amount: bid.amount, bid_id: bid.bidId };
}

/** Rebuilds a bid from the current configuration; null when its campaign is gone meanwhile. */
export function fromHeldBid(catalog: Catalog, held: HeldBid): CollectedBid | null {
  const campaign = catalog.campaign(held.campaign_id);
  if (!campaign || campaign.status !== 'active') return null;
  return {
    key: campaign.id,
    campaignId: campaign.id,
    buyerId: campaign.buyer_id,
    mode: campaign.mode,
    amount: held.amount,
    priority: campaign.priority,
    weight: campaign.weight,
    campaign,
    bidId: held.bid_id,
  };
}
