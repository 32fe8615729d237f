import type { Logger } from 'pino';
import type { Catalog } from '../catalog/catalog.ts';
import type { AffiliatePayout, CampaignWithSecret, SaleMode, Vertical } from '../catalog/types.ts';
import type { AuditLog } from '../audit/events.ts';
import type { BuyerClient } from '../buyers/buyer-client.ts';
import type { Clock } from '../clock/clock.ts';
import type { LeadRepository } from '../db/lead-repository.ts';
import type { ContactHashes } from '../lead/contact.ts';
import type { RankedBid } from '../auction/ranking.ts';
import type { Store } from '../store/store.ts';

export interface ExchangeSettings {
  /** Default deadline of the ping phase (section 5.2). */
  tmaxMs: number;
  /** How long a two-phase ping's winners stay reserved (section 3.2). */
  holdTtlMs: number;
  /** How long posting may take, fallbacks and retries included (section 5.6). */
  postDeadlineMs: number;
}

export interface ExchangeDeps {
  catalog: Catalog;
  store: Store;
  buyers: BuyerClient;
  leads: LeadRepository;
  audit: AuditLog;
  clock: Clock;
  random: () => number;
  settings: ExchangeSettings;
  log: Logger;
}

/** What the auction knows about a lead before its personal data is revealed. */
export interface AuctionSubject {
  leadId: string;
  pingId: string;
  affiliateId: string;
  payout: AffiliatePayout;
  vertical: Vertical;
  data: Record<string, unknown>;
  hashes: ContactHashes;
  minPayoutCents: number | null;
}

/** A valid bid, with what is needed to post to it. */
export interface CollectedBid extends RankedBid {
  campaign: CampaignWithSecret;
  bidId: string | null;
}

/** A winner whose caps are reserved and who may now receive the lead. */
export interface ReservedWinner {
  bid: CollectedBid;
  reservationId: string;
}

export interface MadeSale {
  saleId: string;
  bid: CollectedBid;
  reservationId: string;
  buyerLeadId: string | null;
  redirectUrl: string | null;
}

export type LeadStatus = 'sold' | 'unsold' | 'duplicate' | 'rejected';

/** Section 3.1's answer. */
export interface LeadAnswer {
  lead_id: string;
  status: LeadStatus;
  mode: SaleMode | null;
  payout: number;
  buyers: number;
  redirect_url: string | null;
  reasons?: string[];
}

/** Section 3.2's answer to a ping. */
export type PingAnswer =
  | { ping_id: string; status: 'bid'; payout: number; mode: SaleMode; expires_at: string }
  | { ping_id: string; status: 'no_bid' };
