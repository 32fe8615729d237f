// The circuit breakers' side of the buyers port: which buyer endpoints must not be called now
// (asked before any ping, PROTOCOL 5.1), and what the operator sees of them.
import type { BreakerSettings, CampaignWithSecret } from '../catalog/types.ts';

export type Endpoint = 'ping' | 'post';

export type BreakerState = 'closed' | 'open' | 'half_open';

/** Counts over the breaker's rolling window. */
export interface EndpointStats {
  /** Every call asked of the breaker, refused ones included. */
  calls: number;
  failures: number;
  successes: number;
  /** Calls refused while the breaker was open. */
  rejected: number;
  error_percentage: number;
}

/** Shaped for the admin API as is. */
export interface BreakerReport {
  ping: BreakerState;
  post: BreakerState;
  settings: BreakerSettings;
  stats: Record<Endpoint, EndpointStats>;
}

export interface EndpointBreakers {
  /** The endpoint of this campaign whose breaker refuses calls now, or null when it may be asked. */
  blocked(campaign: CampaignWithSecret): Endpoint | null;
  report(campaign: CampaignWithSecret): BreakerReport;
}
