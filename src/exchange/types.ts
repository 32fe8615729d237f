import type { Logger } from 'pino';
import type { Metrics } from '../metrics/metrics.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { AffiliatePayout, CampaignWithSecret, SaleMode, Vertical } from '../catalog/types.ts';
import type { AuditLog } from '../audit/events.ts';
import type { BuyerClient } from '../buyers/buyer-client.ts';
import type { Clock } from '../clock/clock.ts';
import type { LeadRepository } from '../db/lead-repository.ts';
import type { ContactHashes } from '../lead/contact.ts';
import type { RankedBid } from '../auction/ranking.ts';
import type { ExclusionReason } from '../auction/eligibility.ts';
import type { CapCounter } from '../auction/caps.ts';
import type { Store } from '../store/store.ts';
import type { ReservationCommitter } from '../store/reservation-committer.ts';
import type { Availability } from './availability.ts';
import type { PingSlots } from './ping-slots.ts';

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
  metrics: Metrics;
  /** The health gate: no auction starts, and no post goes out, while Postgres or Redis is down. */
  availability: Availability;
  /** Commits the reservations of recorded sales, retrying through a store outage. */
  commits: ReservationCommitter;
  /** Bounds the pings in flight on this node; absent: unbounded. */
  pingSlots?: PingSlots;
  /** Exclusions decided outside the pure rules, e.g. an open circuit breaker; null when eligible. */
  excludeBeforePing?: (campaign: CampaignWithSecret) => ExclusionReason | null;
}

/** The consumer locks an auction holds until it ends (src/exchange/bidding.ts). */
export interface ConsumerSession {
  lockKeys: string[];
  token: string;
  /** Set once the session's locks are released, so they are released once. */
  ended?: boolean;
  /**
   * Per contact hash, whether the history read at the start held a send within the window: then
   * the lead's end leaves it as it is (judgeConsumer's sentLive).
   */
  sentLive?: boolean[];
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
  /** The caps reserved and each one's value right after (empty for a held winner): for alerts. */
  caps: readonly CapCounter[];
  capValues: number[];
}

export interface MadeSale {
  saleId: string;
  bid: CollectedBid;
  reservationId: string;
  caps: readonly CapCounter[];
  capValues: number[];
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
  | { ping_id: string; status: 'no_bid'; reason?: 'duplicate' };
