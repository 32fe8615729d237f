// What each money event writes to the ledger. Amounts are signed from the account holder's
// side, so an account's entries sum to what it gained (affiliate) or spent, negated (buyer).

export type LedgerAccountType = 'buyer' | 'affiliate';

/**
 * `sale` (buyer, -price) and `payout` (affiliate, +payout) are written with each sale;
 * `return_credit` (buyer, +price) and `payout_clawback` (affiliate, -payout) when a return is
 * approved. `topup` and `adjustment` are kept for operator money movements.
 */
export type LedgerKind = 'sale' | 'payout' | 'return_credit' | 'payout_clawback' | 'topup' | 'adjustment';

export interface LedgerEntry {
  account_type: LedgerAccountType;
  account_id: string;
  /** Signed cents. */
  amount_cents: number;
  kind: LedgerKind;
  sale_id: string | null;
  return_id: string | null;
}

export interface SaleMoney {
  id: string;
  buyer_id: string;
  affiliate_id: string;
  price_cents: number;
  payout_cents: number;
}

/** A sale debits the buyer its price and owes the affiliate its payout. */
export function saleEntries(sale: SaleMoney): LedgerEntry[] {
  return withoutZero([
    { account_type: 'buyer', account_id: sale.buyer_id, amount_cents: -sale.price_cents, kind: 'sale', sale_id: sale.id, return_id: null },
    { account_type: 'affiliate', account_id: sale.affiliate_id, amount_cents: sale.payout_cents, kind: 'payout', sale_id: sale.id, return_id: null },
  ]);
}

/** An approved return undoes exactly the sale's money: the price back to the buyer, the payout back from the affiliate. */
export function returnEntries(returned: SaleMoney & { return_id: string }): LedgerEntry[] {
  return withoutZero([
    { account_type: 'buyer', account_id: returned.buyer_id, amount_cents: returned.price_cents, kind: 'return_credit', sale_id: returned.id, return_id: returned.return_id },
    { account_type: 'affiliate', account_id: returned.affiliate_id, amount_cents: -returned.payout_cents, kind: 'payout_clawback', sale_id: returned.id, return_id: returned.return_id },
  ]);
}

/** What the entries change on one account. */
export function netFor(entries: LedgerEntry[], accountType: LedgerAccountType, accountId: string): number {
  return entries.filter((e) => e.account_type === accountType && e.account_id === accountId).reduce((sum, e) => sum + e.amount_cents, 0);
}

// A shared sale under a fixed per-lead payout carries no payout (the first sale carries it):
// no money moves, so no row is written.
function withoutZero(entries: LedgerEntry[]): LedgerEntry[] {
  return entries.filter((e) => e.amount_cents !== 0);
}
