// The per-lead timeline. Every decision the exchange makes about a lead is one event.

export type EventType =
  | 'lead.received'
  | 'campaign.excluded'
  | 'campaign.pinged'
  | 'campaign.priced'
  | 'bid.capped'
  | 'bid.refused'
  | 'auction.queued'
  | 'auction.choice'
  | 'auction.below_min_payout'
  | 'reservation.made'
  | 'reservation.failed'
  | 'reservation.released'
  | 'hold.created'
  | 'hold.claimed'
  | 'hold.expired'
  | 'post.accepted'
  | 'post.rejected'
  | 'post.failed'
  | 'sale.recorded'
  | 'lead.sold'
  | 'lead.unsold'
  | 'lead.rejected'
  | 'cap.alert'
  | 'return.requested'
  | 'return.approved'
  | 'return.denied';

export interface AuditEvent {
  lead_id: string;
  /** Epoch milliseconds. */
  at: number;
  type: EventType;
  campaign_id: string | null;
  detail: Record<string, unknown>;
}

/**
 * A campaign was asked for its price (pinged, or priced without a ping) and did or did not offer
 * one: counted per campaign for the operator's status view. What it answered is in the lead's
 * `campaign.pinged` / `campaign.priced` event.
 */
export interface Asked {
  campaign_id: string;
  /** Epoch milliseconds. */
  at: number;
  offered: boolean;
}

/** A two-phase ping, kept so a post long after its hold is gone can still tell 410 from 404. */
export interface PingRecord {
  id: string;
  lead_id: string;
  affiliate_id: string;
  vertical: string;
  data: Record<string, unknown>;
  email_sha256: string | null;
  phone_sha256: string | null;
  min_payout_cents: number | null;
  status: 'bid' | 'no_bid';
  mode: string | null;
  payout_cents: number | null;
  expires_at: number | null;
  at: number;
}

export interface AuditLog {
  event(event: AuditEvent): void;
  asked(asked: Asked): void;
  ping(ping: PingRecord): void;
  /** Resolves once everything recorded before the call is durable. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/**
 * How often the event log is written to Postgres, and the most events (and pings) a write takes.
 * Each write is a commit, and a commit's flush to disk costs Postgres more CPU than the events in
 * it: 200 ms and 2000 took 0.06–0.16 ms of Postgres CPU off each auction at full load against 50
 * and 500 (load/FINDINGS.md, "Costs found in place"). The admin API's timeline flushes before it
 * reads, so nobody reading through the exchange waits on the interval.
 */
export const DEFAULT_EVENT_LOG = { flushIntervalMs: 200, batchSize: 2000 } as const;
