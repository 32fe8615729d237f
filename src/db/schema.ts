// Kysely's view of the tables in migrations/. Cents are bigint in SQL, parsed to number
// (safe up to 2^53 cents); JSON columns are written as JSON text and read back parsed.
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json<T> = ColumnType<T, string, string>;
type NullableJson<T> = ColumnType<T | null, string | null, string | null>;

export interface VerticalsTable {
  key: string;
  fields: Json<unknown>;
  max_shared: number;
  exclusive_days: number;
  duplicate_days: number;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface AffiliatesTable {
  id: string;
  name: string;
  payout: Json<unknown>;
  status: string;
  api_key_hash: string;
  /** migrations/0003: null means the configured default. */
  rate_limit_per_s: number | null;
  rate_limit_burst: number | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface BuyersTable {
  id: string;
  name: string;
  balance_cents: number | null;
  credit_limit_cents: number;
  budget_epoch: ColumnType<number, number | undefined, number>;
  status: string;
  api_key_hash: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface CampaignsTable {
  id: string;
  buyer_id: string;
  name: string;
  vertical: string;
  mode: string;
  pricing: Json<unknown>;
  ping_url: string | null;
  post_url: string;
  headers: Json<unknown>;
  timeout_ms: number;
  filters: NullableJson<unknown>;
  schedule: NullableJson<unknown>;
  caps: Json<unknown>;
  max_per_minute: number | null;
  dedupe_days: number;
  priority: number;
  weight: number;
  status: string;
  signing_secret: string;
  /** migrations/0002: null means the exchange's default thresholds. */
  breaker: NullableJson<unknown>;
  post_timeout_ms: number | null;
  return_refunds_caps: ColumnType<boolean, boolean | undefined, boolean>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface LeadsTable {
  id: string;
  affiliate_id: string;
  vertical: string;
  ping_id: string;
  data: Json<Record<string, unknown>>;
  /** migrations/0003: sealed text (src/pii/cipher.ts); LeadRepository seals and opens it. */
  contact: string;
  consent: string;
  /** The PII key that sealed contact and consent; null for rows written before 0003 (plain JSON text). */
  pii_key_id: string | null;
  source: Json<Record<string, unknown>>;
  email_sha256: string | null;
  phone_sha256: string | null;
  status: string;
  mode: string | null;
  reasons: Json<string[]>;
  price_cents: number;
  payout_cents: number;
  min_payout_cents: number | null;
  idempotency_key: string | null;
  request_hash: string | null;
  response: Json<Record<string, unknown>>;
  created_at: Timestamp;
}

export interface PingsTable {
  id: string;
  lead_id: string;
  affiliate_id: string;
  vertical: string;
  data: Json<Record<string, unknown>>;
  email_sha256: string | null;
  phone_sha256: string | null;
  min_payout_cents: number | null;
  status: string;
  mode: string | null;
  payout_cents: number | null;
  expires_at: Date | string | null;
  created_at: Timestamp;
}

export interface SalesTable {
  id: string;
  lead_id: string;
  campaign_id: string;
  buyer_id: string;
  affiliate_id: string;
  vertical: string;
  mode: string;
  price_cents: number;
  payout_cents: number;
  bid_id: string | null;
  buyer_lead_id: string | null;
  redirect_url: string | null;
  email_sha256: string | null;
  phone_sha256: string | null;
  created_at: Timestamp;
}

/** A view (migrations/0008_event_chunks.sql): one row per event of `event_chunks`. Read only. */
export interface EventsTable {
  id: Generated<number>;
  lead_id: string;
  at: Date | string;
  type: string;
  campaign_id: string | null;
  detail: Json<Record<string, unknown>>;
}

/** Some events of one lead, as one row: the audit log writes the timeline this way. */
export interface EventChunksTable {
  id: Generated<number>;
  lead_id: string;
  events: Json<Array<{ at: number; type: string; campaign_id: string | null; detail: Record<string, unknown> }>>;
}

/** How often a campaign was asked for its price, and offered one, per quarter hour. */
export interface CampaignActivityTable {
  campaign_id: string;
  bucket: Date | string;
  pings: number;
  bids: number;
}

export interface ReturnsTable {
  id: string;
  sale_id: string;
  lead_id: string;
  buyer_id: string;
  affiliate_id: string;
  campaign_id: string;
  reason: string;
  detail: string | null;
  status: string;
  price_cents: number;
  payout_cents: number;
  proof: NullableJson<Record<string, unknown>>;
  decided_by: string | null;
  note: string | null;
  created_at: Timestamp;
  decided_at: Date | string | null;
}

export interface LedgerTable {
  id: Generated<number>;
  at: Timestamp;
  account_type: string;
  account_id: string;
  amount_cents: number;
  kind: string;
  sale_id: string | null;
  return_id: string | null;
}

export interface DB {
  verticals: VerticalsTable;
  affiliates: AffiliatesTable;
  buyers: BuyersTable;
  campaigns: CampaignsTable;
  leads: LeadsTable;
  pings: PingsTable;
  sales: SalesTable;
  events: EventsTable;
  event_chunks: EventChunksTable;
  campaign_activity: CampaignActivityTable;
  returns: ReturnsTable;
  ledger: LedgerTable;
}

export type LeadRow = Selectable<LeadsTable>;
/** contact and consent as plain JSON text: LeadRepository seals them before they reach the table. */
export type NewLead = Omit<Insertable<LeadsTable>, 'pii_key_id'>;
export type NewSale = Insertable<SalesTable>;
export type NewPing = Insertable<PingsTable>;
export type NewReturn = Insertable<ReturnsTable>;
export type NewLedgerRow = Insertable<LedgerTable>;
