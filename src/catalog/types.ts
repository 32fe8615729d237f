// Configuration entities as the admin API and the database hold them (snake_case on purpose:
// the same shape travels over the wire, into JSON columns and through the auction).

export type FieldType = 'string' | 'number' | 'integer' | 'boolean';

export interface VerticalField {
  name: string;
  type: FieldType;
  required: boolean;
  enum?: Array<string | number>;
}

export interface Vertical {
  key: string;
  fields: VerticalField[];
  max_shared: number;
  exclusive_days: number;
  duplicate_days: number;
}

export type AffiliatePayout = { type: 'revshare'; percent: number } | { type: 'fixed'; amount: number };

export type EntityStatus = 'active' | 'paused' | 'disabled';

export interface Affiliate {
  id: string;
  name: string;
  payout: AffiliatePayout;
  status: EntityStatus;
  /** Requests per second on the lead endpoints; absent or null: the configured default. */
  rate_limit_per_s?: number | null;
  /** Requests allowed at once above that rate; absent or null: two seconds' worth of it. */
  rate_limit_burst?: number | null;
}

export interface Buyer {
  id: string;
  name: string;
  /** Dollars of prepaid funds available since it was last set; null: not budgeted (no limit). */
  balance: number | null;
  /** Dollars the buyer may go below zero. */
  credit_limit: number;
  status: EntityStatus;
  /** Bumped whenever balance is set, so spending counts again from the new balance. */
  budget_epoch?: number;
}

export type FilterOp =
  | 'eq' | 'neq' | 'in' | 'not_in' | 'gt' | 'gte' | 'lt' | 'lte'
  | 'between' | 'exists' | 'not_exists' | 'prefix';

export type FilterCondition = { field: string; op: FilterOp; value?: unknown };
export type FilterGroup = { all: Filter[] } | { any: Filter[] };
export type Filter = FilterCondition | FilterGroup;

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';
/** ["08:00","18:00"]; an end before the start runs overnight into the next day. */
export type TimeRange = [string, string];

export interface Schedule {
  timezone: string;
  weekly?: Partial<Record<Weekday, TimeRange[]>>;
  /** Local dates (YYYY-MM-DD) on which the campaign is closed all day. */
  holidays?: string[];
}

export type CapPeriod = 'hour' | 'day' | 'week' | 'month';

export interface Cap {
  period: CapPeriod;
  leads?: number;
  /** Dollars. */
  spend?: number;
}

export type Pricing =
  | { type: 'bid'; min_bid?: number; max_bid?: number }
  | { type: 'fixed'; price: number };

export type SaleMode = 'exclusive' | 'shared';

export type CampaignStatus = 'active' | 'paused' | 'deleted';

/** When a campaign's ping or post endpoint is taken out of auctions, and for how long. */
export interface BreakerSettings {
  /** Opens when more than this percentage of calls in the rolling window failed... */
  error_threshold_percentage: number;
  /** ...and at least this many calls were made in it. */
  volume_threshold: number;
  rolling_window_ms: number;
  /** How long it stays open before one probe call is let through. */
  reset_timeout_ms: number;
}

export interface Campaign {
  id: string;
  buyer_id: string;
  name: string;
  vertical: string;
  mode: SaleMode;
  pricing: Pricing;
  ping_url: string | null;
  post_url: string;
  headers: Record<string, string>;
  timeout_ms: number;
  filters: Filter | null;
  schedule: Schedule | null;
  caps: Cap[];
  max_per_minute: number | null;
  dedupe_days: number;
  priority: number;
  weight: number;
  status: CampaignStatus;
  /** Absent or null: the exchange's default thresholds. */
  breaker?: BreakerSettings | null;
  /** Bound on one post to this campaign, retries included; absent or null: only the post deadline. */
  post_timeout_ms?: number | null;
  /** An approved return gives back the cap usage of its sale (default false: caps count sales made). */
  return_refunds_caps?: boolean;
}

/** Campaign plus the secret used to sign its outbound requests; never serialised to the API after creation. */
export interface CampaignWithSecret extends Campaign {
  signing_secret: string;
}
