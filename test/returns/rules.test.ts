import { describe, expect, it } from 'vitest';
import { isReturnable, lookBackFrom, purchaseDuplicateWindowDays, returnWindowClosesAt } from '../../src/returns/rules.ts';

const DAY = 86_400_000;
const soldAt = Date.parse('2026-11-22T10:00:00Z');

describe('the return window', () => {
  it('closes exactly the configured number of days after the sale', () => {
    expect(new Date(returnWindowClosesAt(soldAt, 7)).toISOString()).toBe('2026-11-29T10:00:00.000Z');
    expect(isReturnable(soldAt, soldAt + 7 * DAY, 7)).toBe(true);
    expect(isReturnable(soldAt, soldAt + 7 * DAY + 1, 7)).toBe(false);
  });

  it('with zero days takes returns only at the instant of the sale', () => {
    expect(isReturnable(soldAt, soldAt, 0)).toBe(true);
    expect(isReturnable(soldAt, soldAt + 1, 0)).toBe(false);
  });
});

describe('the look-back for an earlier purchase', () => {
  it("reaches as far as the longer of the campaign's dedupe_days and the vertical's duplicate_days", () => {
    expect(purchaseDuplicateWindowDays(60, 30)).toBe(60);
    expect(purchaseDuplicateWindowDays(0, 30)).toBe(30);
    expect(purchaseDuplicateWindowDays(0, 0)).toBe(0);
    expect(lookBackFrom(soldAt, 30)).toBe(soldAt - 30 * DAY);
  });
});
