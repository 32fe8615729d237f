// How a return reads over the API. Buyers see their own side of it: not the affiliate, not its
// payout, and not leads they never bought.
import { toDollars } from '../catalog/money.ts';
import type { DuplicateProof, ReturnRecord } from '../returns/types.ts';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

function common(r: ReturnRecord) {
  return {
    id: r.id,
    lead_id: r.lead_id,
    sale_id: r.sale_id,
    campaign_id: r.campaign_id,
    status: r.status,
    reason: r.reason,
    detail: r.detail,
    /** What an approval credits (or credited) the buyer. */
    price: toDollars(r.price_cents),
    decided_by: r.decided_by,
    note: r.note,
    created_at: iso(r.created_at),
    decided_at: iso(r.decided_at),
  };
}

export function operatorReturnView(r: ReturnRecord) {
  return { ...common(r), buyer_id: r.buyer_id, affiliate_id: r.affiliate_id, payout: toDollars(r.payout_cents), proof: r.proof };
}

export function buyerReturnView(r: ReturnRecord) {
  return { ...common(r), proof: r.proof && buyerProof(r.proof) };
}

function buyerProof(proof: DuplicateProof) {
  if (proof.rule === 'earlier_purchase') return proof;
  // The earlier lead went to whoever bought it, perhaps not this buyer: say when, not which.
  return { rule: proof.rule, at: proof.at, window_days: proof.window_days };
}
