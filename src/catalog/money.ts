// The API speaks decimal dollars with at most 2 decimals; everything that adds money up works
// in integer cents so sums are exact.

/**
 * The largest amount of dollars any API field takes: its cents stay far inside both a JS safe
 * integer and a Postgres bigint, so no amount can overflow where it is stored or summed.
 */
export const MONEY_MAX = 10_000_000_000;

export function toCents(dollars: number): number {
  return Math.round(dollars * 100);
}

export function toDollars(cents: number): number {
  return cents / 100;
}
