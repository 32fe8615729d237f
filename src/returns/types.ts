// Returns (PROTOCOL section 7): a buyer gives back a lead it bought; an approval undoes the
// sale's money.

export const RETURN_REASONS = ['duplicate', 'invalid_contact', 'fraud', 'other'] as const;
export type ReturnReason = (typeof RETURN_REASONS)[number];

export const RETURN_STATUSES = ['pending', 'approved', 'denied'] as const;
export type ReturnStatus = (typeof RETURN_STATUSES)[number];

/** The exchange decides provable duplicates itself; everything else is the operator's call. */
export type Decider = 'exchange' | 'operator';

/** Which of the exchange's own records proved a duplicate. */
export type DuplicateProof =
  | {
      /** The same buyer bought the same consumer (either contact hash) earlier, inside the window. */
      rule: 'earlier_purchase';
      sale_id: string;
      lead_id: string;
      at: string;
      window_days: number;
    }
  | {
      /** The same affiliate sent the same consumer earlier in the vertical, inside its duplicate window. */
      rule: 'earlier_lead_from_affiliate';
      lead_id: string;
      at: string;
      window_days: number;
    };

export interface ReturnRecord {
  id: string;
  sale_id: string;
  lead_id: string;
  buyer_id: string;
  affiliate_id: string;
  campaign_id: string;
  reason: ReturnReason;
  detail: string | null;
  status: ReturnStatus;
  price_cents: number;
  payout_cents: number;
  proof: DuplicateProof | null;
  decided_by: Decider | null;
  note: string | null;
  /** Epoch milliseconds. */
  created_at: number;
  decided_at: number | null;
}

export interface ReturnSettings {
  /** Days after a sale during which its buyer may return it. */
  windowDays: number;
}

export const DEFAULT_RETURN_SETTINGS: ReturnSettings = { windowDays: 7 };

/** Published after an approved return's money is committed, for whoever tracks buyer budgets. */
export interface BuyerCredit {
  buyer_id: string;
  amount_cents: number;
  return_id: string;
  sale_id: string;
  /** Epoch milliseconds. */
  at: number;
}
