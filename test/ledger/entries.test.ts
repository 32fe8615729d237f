import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { netFor, returnEntries, saleEntries } from '../../src/ledger/entries.ts';

const sale = { id: 'sl_1', buyer_id: 'by_1', affiliate_id: 'af_1', price_cents: 2137, payout_cents: 1709 };

describe('ledger entries', () => {
  it('debit the buyer the price and credit the affiliate the payout on a sale', () => {
    expect(saleEntries(sale)).toEqual([
      { account_type: 'buyer', account_id: 'by_1', amount_cents: -2137, kind: 'sale', sale_id: 'sl_1', return_id: null },
      { account_type: 'affiliate', account_id: 'af_1', amount_cents: 1709, kind: 'payout', sale_id: 'sl_1', return_id: null },
    ]);
  });

  it('credit the buyer the price and claw the payout back on an approved return', () => {
    expect(returnEntries({ ...sale, return_id: 'rt_1' })).toEqual([
      { account_type: 'buyer', account_id: 'by_1', amount_cents: 2137, kind: 'return_credit', sale_id: 'sl_1', return_id: 'rt_1' },
      { account_type: 'affiliate', account_id: 'af_1', amount_cents: -1709, kind: 'payout_clawback', sale_id: 'sl_1', return_id: 'rt_1' },
    ]);
  });

  it('write nothing for a sale that carries no payout', () => {
    expect(saleEntries({ ...sale, payout_cents: 0 }).map((e) => e.kind)).toEqual(['sale']);
    expect(returnEntries({ ...sale, payout_cents: 0, return_id: 'rt_1' }).map((e) => e.kind)).toEqual(['return_credit']);
  });

  it('of a returned sale leave both accounts exactly where they started', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000_000 }), fc.integer({ min: 0, max: 100 }), (price, percent) => {
        const returned = { ...sale, price_cents: price, payout_cents: Math.floor((price * percent) / 100) };
        const entries = [...saleEntries(returned), ...returnEntries({ ...returned, return_id: 'rt_1' })];
        expect(netFor(entries, 'buyer', 'by_1')).toBe(0);
        expect(netFor(entries, 'affiliate', 'af_1')).toBe(0);
      }),
    );
  });
});
