// Section 5.7: first-price settlement and the affiliate's share. Cents throughout.
import type { AffiliatePayout } from '../catalog/types.ts';
import { toCents } from '../catalog/money.ts';

/**
 * The affiliate's payout for each sale of one lead. Revenue share is per sale (rounded down to
 * the cent, never paying out money not received); a fixed payout is per lead, carried by the
 * first sale so the lead's total is exactly the fixed amount.
 */
export function payoutsFor(payout: AffiliatePayout, pricesCents: number[]): number[] {
  if (payout.type === 'revshare') return pricesCents.map((price) => Math.floor((price * payout.percent) / 100));
  return pricesCents.map((_price, index) => (index === 0 ? toCents(payout.amount) : 0));
}

export function totalPayout(payout: AffiliatePayout, pricesCents: number[]): number {
  return payoutsFor(payout, pricesCents).reduce((sum, cents) => sum + cents, 0);
}
