// The buyers port: outbound pings and posts to buyer endpoints.
import type { CampaignWithSecret, SaleMode } from '../catalog/types.ts';

export interface PingBody {
  ping_id: string;
  campaign_id: string;
  vertical: string;
  mode: SaleMode;
  data: Record<string, unknown>;
  contact_hashes: { email_sha256?: string; phone_sha256?: string };
  tmax_ms: number;
}

export interface PostBody {
  lead_id: string;
  ping_id: string;
  bid_id: string | null;
  campaign_id: string;
  price: number;
  vertical: string;
  mode: SaleMode;
  data: Record<string, unknown>;
  contact: Record<string, unknown>;
  consent: Record<string, unknown>;
  source: Record<string, unknown>;
}

/** Why a ping produced no bid. */
export type NoBidReason =
  | 'no_bid'          // 204, { bid: 0 } or { bid: null }
  | 'timeout'         // no complete answer before the deadline
  | 'http_status'     // non-2xx
  | 'invalid_body'    // not JSON, or not the section 4.1 shape
  | 'too_large'       // body over 64 KiB
  | 'redirect'        // 3xx: redirects are never followed
  | 'network'         // connection refused, reset, DNS...
  | 'breaker_open';   // not sent: the endpoint's circuit breaker is open

export type PingOutcome =
  | { kind: 'bid'; amount: number; bidId: string | null; latencyMs: number; status: number }
  | { kind: 'no_bid'; reason: NoBidReason; detail?: string; latencyMs: number; status?: number };

export type PostFailureReason = 'timeout' | 'http_status' | 'invalid_body' | 'too_large' | 'redirect' | 'network' | 'breaker_open';

export type PostOutcome =
  | { kind: 'accepted'; buyerLeadId: string | null; redirectUrl: string | null; latencyMs: number; attempts: number }
  | { kind: 'rejected'; reason: string; latencyMs: number; attempts: number }
  | { kind: 'failed'; reason: PostFailureReason; detail?: string; latencyMs: number; attempts: number; status?: number };

export interface BuyerClient {
  /** Never throws: every failure is a no-bid with its reason. `deadline` is absolute epoch ms. */
  ping(campaign: CampaignWithSecret, body: PingBody, deadline: number): Promise<PingOutcome>;
  /**
   * Never throws. Retries timeouts, network errors and 5xx with the same Idempotency-Key and
   * backoff while `deadline` (absolute epoch ms) and the campaign's `post_timeout_ms` allow; a
   * rejection is final.
   */
  post(campaign: CampaignWithSecret, body: PostBody, idempotencyKey: string, deadline: number): Promise<PostOutcome>;
  /** Drop pools of origins no longer used by any campaign. */
  retain(origins: Set<string>): Promise<void>;
  close(): Promise<void>;
}
