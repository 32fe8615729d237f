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
}

export interface Buyer {
  id: string;
  name: string;
  /** Dollars; prepaid funds. */
  balance: number;
  /** Dollars the buyer may go below zero. */
  credit_limit: number;
  status: EntityStatus;
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
}

/** Campaign plus the secret used to sign its outbound requests; never serialised to the API after creation. */
export interface CampaignWithSecret extends Campaign {
  signing_secret: string;
}
