// The API speaks decimal dollars with at most 2 decimals; everything that adds money up works
// in integer cents so sums are exact.

export function toCents(dollars: number): number {
  return Math.round(dollars * 100);
}

export function toDollars(cents: number): number {
  return cents / 100;
}
