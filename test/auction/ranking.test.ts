import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chooseWinners, nextSharedWinners, rankBids } from '../../src/auction/ranking.ts';
import type { RankedBid, Random } from '../../src/auction/ranking.ts';

/** mulberry32: a tiny seeded PRNG so the weighted draws are reproducible. */
function seeded(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

let counter = 0;
function bid(partial: Partial<RankedBid> & Pick<RankedBid, 'buyerId' | 'mode' | 'amount'>): RankedBid {
  counter += 1;
  const key = partial.key ?? `cp_${counter}`;
  return { key, campaignId: key, priority: 0, weight: 1, ...partial };
}
const keysOf = (bids: RankedBid[]) => bids.map((b) => b.key);

describe('rankBids', () => {
  it('orders by amount, then priority', () => {
    const bids = [
      bid({ key: 'low', buyerId: 'a', mode: 'shared', amount: 1000 }),
      bid({ key: 'high', buyerId: 'b', mode: 'exclusive', amount: 3000 }),
      bid({ key: 'mid-p0', buyerId: 'c', mode: 'shared', amount: 2000, priority: 0 }),
      bid({ key: 'mid-p5', buyerId: 'd', mode: 'shared', amount: 2000, priority: 5 }),
    ];
    expect(keysOf(rankBids(bids, seeded(1)))).toEqual(['high', 'mid-p5', 'mid-p0', 'low']);
  });

  it('priority never outranks a higher amount', () => {
    const bids = [
      bid({ key: 'rich', buyerId: 'a', mode: 'exclusive', amount: 2001, priority: 0 }),
      bid({ key: 'favoured', buyerId: 'b', mode: 'exclusive', amount: 2000, priority: 100 }),
    ];
    expect(keysOf(rankBids(bids, seeded(2)))).toEqual(['rich', 'favoured']);
  });

  it('does not modify its input and draws once per bid', () => {
    const bids = [
      bid({ key: 'x', buyerId: 'a', mode: 'shared', amount: 1 }),
      bid({ key: 'y', buyerId: 'b', mode: 'shared', amount: 2 }),
      bid({ key: 'z', buyerId: 'c', mode: 'shared', amount: 3 }),
    ];
    let draws = 0;
    const source = seeded(3);
    rankBids(bids, () => { draws += 1; return source(); });
    expect(draws).toBe(3);
    expect(keysOf(bids)).toEqual(['x', 'y', 'z']);
  });

  it('is reproducible with the same seed', () => {
    const bids = Array.from({ length: 8 }, (_, i) => bid({ key: `k${i}`, buyerId: `b${i}`, mode: 'shared', amount: 500 }));
    expect(keysOf(rankBids(bids, seeded(42)))).toEqual(keysOf(rankBids(bids, seeded(42))));
  });

  it('breaks exact ties in proportion to weight', () => {
    const bids = [
      bid({ key: 'w1', buyerId: 'a', mode: 'exclusive', amount: 1500, weight: 1 }),
      bid({ key: 'w2', buyerId: 'b', mode: 'exclusive', amount: 1500, weight: 2 }),
      bid({ key: 'w3', buyerId: 'c', mode: 'exclusive', amount: 1500, weight: 3 }),
      bid({ key: 'w0', buyerId: 'd', mode: 'exclusive', amount: 1500, weight: 0 }),
    ];
    const random = seeded(20261122);
    const firsts = new Map<string, number>();
    const draws = 10_000;
    for (let i = 0; i < draws; i += 1) {
      const winner = chooseWinners(rankBids(bids, random), 3)?.winners[0]?.key ?? 'none';
      firsts.set(winner, (firsts.get(winner) ?? 0) + 1);
    }
    expect(Math.abs((firsts.get('w1') ?? 0) / draws - 1 / 6)).toBeLessThan(0.02);
    expect(Math.abs((firsts.get('w2') ?? 0) / draws - 2 / 6)).toBeLessThan(0.02);
    expect(Math.abs((firsts.get('w3') ?? 0) / draws - 3 / 6)).toBeLessThan(0.02);
    expect(firsts.get('w0') ?? 0).toBe(0);
  });

  it('puts weight <= 0 after every positive weight of the same amount and priority, but not after lower amounts', () => {
    const bids = [
      bid({ key: 'zero', buyerId: 'a', mode: 'shared', amount: 1000, weight: 0 }),
      bid({ key: 'neg', buyerId: 'b', mode: 'shared', amount: 1000, weight: -1 }),
      bid({ key: 'tiny', buyerId: 'c', mode: 'shared', amount: 1000, weight: 0.0001 }),
      bid({ key: 'cheap', buyerId: 'd', mode: 'shared', amount: 999, weight: 100 }),
    ];
    for (let seed = 0; seed < 50; seed += 1) {
      const order = keysOf(rankBids(bids, seeded(seed)));
      expect(order[0]).toBe('tiny');
      expect(order.slice(1, 3).sort()).toEqual(['neg', 'zero']);
      expect(order[3]).toBe('cheap');
    }
  });
});

describe('chooseWinners', () => {
  const rank = (bids: RankedBid[]) => rankBids(bids, seeded(7));

  it('returns null without bids', () => {
    expect(chooseWinners([], 3)).toBeNull();
  });

  it('the highest exclusive bid wins when there is no shared offer', () => {
    const ranked = rank([
      bid({ key: 'e1', buyerId: 'a', mode: 'exclusive', amount: 2000 }),
      bid({ key: 'e2', buyerId: 'b', mode: 'exclusive', amount: 2500 }),
    ]);
    expect(chooseWinners(ranked, 3)).toEqual({ mode: 'exclusive', winners: [expect.objectContaining({ key: 'e2' })], total: 2500 });
  });

  it('the highest exclusive bid wins over a smaller shared sum', () => {
    const ranked = rank([
      bid({ key: 'e', buyerId: 'a', mode: 'exclusive', amount: 6000 }),
      bid({ key: 's1', buyerId: 'b', mode: 'shared', amount: 2500 }),
      bid({ key: 's2', buyerId: 'c', mode: 'shared', amount: 2000 }),
      bid({ key: 's3', buyerId: 'd', mode: 'shared', amount: 1000 }),
    ]);
    const choice = chooseWinners(ranked, 3);
    expect(choice?.mode).toBe('exclusive');
    expect(keysOf(choice?.winners ?? [])).toEqual(['e']);
    expect(choice?.total).toBe(6000);
  });

  it('a shared set from distinct buyers wins when its sum beats the exclusive bid', () => {
    const ranked = rank([
      bid({ key: 'e', buyerId: 'a', mode: 'exclusive', amount: 5000 }),
      bid({ key: 's1', buyerId: 'b', mode: 'shared', amount: 2500 }),
      bid({ key: 's2', buyerId: 'c', mode: 'shared', amount: 2000 }),
      bid({ key: 's3', buyerId: 'd', mode: 'shared', amount: 1000 }),
      bid({ key: 's4', buyerId: 'e', mode: 'shared', amount: 900 }),
    ]);
    const choice = chooseWinners(ranked, 3);
    expect(choice?.mode).toBe('shared');
    expect(keysOf(choice?.winners ?? [])).toEqual(['s1', 's2', 's3']);
    expect(choice?.total).toBe(5500);
  });

  it('the exclusive bid wins a tie with the shared sum', () => {
    const ranked = rank([
      bid({ key: 'e', buyerId: 'a', mode: 'exclusive', amount: 5500 }),
      bid({ key: 's1', buyerId: 'b', mode: 'shared', amount: 2500 }),
      bid({ key: 's2', buyerId: 'c', mode: 'shared', amount: 2000 }),
      bid({ key: 's3', buyerId: 'd', mode: 'shared', amount: 1000 }),
    ]);
    expect(chooseWinners(ranked, 3)?.mode).toBe('exclusive');
  });

  it('priority breaks an amount tie', () => {
    const ranked = rank([
      bid({ key: 'plain', buyerId: 'a', mode: 'exclusive', amount: 4000, priority: 0 }),
      bid({ key: 'preferred', buyerId: 'b', mode: 'exclusive', amount: 4000, priority: 1 }),
    ]);
    expect(keysOf(chooseWinners(ranked, 3)?.winners ?? [])).toEqual(['preferred']);
  });

  it('never puts the same buyer twice in a shared set', () => {
    const ranked = rank([
      bid({ key: 'b-1', buyerId: 'b', mode: 'shared', amount: 3000 }),
      bid({ key: 'b-2', buyerId: 'b', mode: 'shared', amount: 2900 }),
      bid({ key: 'c-1', buyerId: 'c', mode: 'shared', amount: 1000 }),
      bid({ key: 'd-1', buyerId: 'd', mode: 'shared', amount: 500 }),
    ]);
    const choice = chooseWinners(ranked, 3);
    expect(keysOf(choice?.winners ?? [])).toEqual(['b-1', 'c-1', 'd-1']);
    expect(choice?.total).toBe(4500);
  });

  it('takes at most maxShared shared winners', () => {
    const ranked = rank([
      bid({ buyerId: 'a', mode: 'shared', amount: 400 }),
      bid({ buyerId: 'b', mode: 'shared', amount: 300 }),
      bid({ buyerId: 'c', mode: 'shared', amount: 200 }),
    ]);
    expect(chooseWinners(ranked, 2)?.winners).toHaveLength(2);
    expect(chooseWinners(ranked, 2)?.total).toBe(700);
    expect(chooseWinners(ranked, 0)).toBeNull();
  });

  it('skips excluded buyers and bids', () => {
    const ranked = rank([
      bid({ key: 'e-a', buyerId: 'a', mode: 'exclusive', amount: 5000 }),
      bid({ key: 'e-b', buyerId: 'b', mode: 'exclusive', amount: 4000 }),
      bid({ key: 'e-b2', buyerId: 'b', mode: 'exclusive', amount: 3000 }),
    ]);
    expect(keysOf(chooseWinners(ranked, 3, { buyerIds: new Set(['a']) })?.winners ?? [])).toEqual(['e-b']);
    expect(keysOf(chooseWinners(ranked, 3, { buyerIds: new Set(['a']), keys: new Set(['e-b']) })?.winners ?? [])).toEqual(['e-b2']);
    expect(chooseWinners(ranked, 3, { buyerIds: new Set(['a', 'b']) })).toBeNull();
  });

  it('falls back to shared when the only exclusive buyer is excluded', () => {
    const ranked = rank([
      bid({ key: 'e', buyerId: 'a', mode: 'exclusive', amount: 9000 }),
      bid({ key: 's', buyerId: 'b', mode: 'shared', amount: 100 }),
    ]);
    expect(chooseWinners(ranked, 3, { buyerIds: new Set(['a']) })).toMatchObject({ mode: 'shared', total: 100 });
  });

  it('holds its rules for any set of bids', () => {
    const arbBid = fc.record({
      buyerId: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
      mode: fc.constantFrom('exclusive' as const, 'shared' as const),
      amount: fc.integer({ min: 1, max: 10_000 }),
      priority: fc.integer({ min: 0, max: 2 }),
      weight: fc.constantFrom(0, 0.5, 1, 3),
    });
    fc.assert(
      fc.property(fc.array(arbBid, { maxLength: 12 }), fc.integer({ min: 1, max: 5 }), fc.integer(), (raw, maxShared, seed) => {
        const ranked = rankBids(raw.map((r, i) => ({ ...r, key: `k${i}`, campaignId: `k${i}` })), seeded(seed));
        for (let i = 1; i < ranked.length; i += 1) expect(ranked[i - 1]!.amount).toBeGreaterThanOrEqual(ranked[i]!.amount);
        const choice = chooseWinners(ranked, maxShared);
        if (ranked.length === 0) {
          expect(choice).toBeNull();
          return;
        }
        expect(choice).not.toBeNull();
        const winners = choice!.winners;
        expect(choice!.total).toBe(winners.reduce((s, w) => s + w.amount, 0));
        expect(new Set(winners.map((w) => w.buyerId)).size).toBe(winners.length);
        const bestExclusive = ranked.find((b) => b.mode === 'exclusive');
        const sharedSet = nextSharedWinners(ranked, maxShared, new Set());
        const sharedSum = sharedSet.reduce((s, w) => s + w.amount, 0);
        if (choice!.mode === 'exclusive') {
          expect(winners).toEqual([bestExclusive]);
          expect(bestExclusive!.amount).toBeGreaterThanOrEqual(sharedSet.length === 0 ? 0 : sharedSum);
        } else {
          expect(winners).toEqual(sharedSet);
          expect(winners.length).toBeLessThanOrEqual(maxShared);
          if (bestExclusive) expect(sharedSum).toBeGreaterThan(bestExclusive.amount);
        }
      }),
    );
  });
});

describe('nextSharedWinners', () => {
  const ranked = rankBids(
    [
      bid({ key: 'b-1', buyerId: 'b', mode: 'shared', amount: 3000 }),
      bid({ key: 'x', buyerId: 'x', mode: 'exclusive', amount: 2950 }),
      bid({ key: 'c-1', buyerId: 'c', mode: 'shared', amount: 2000 }),
      bid({ key: 'c-2', buyerId: 'c', mode: 'shared', amount: 1900 }),
      bid({ key: 'd-1', buyerId: 'd', mode: 'shared', amount: 1000 }),
      bid({ key: 'e-1', buyerId: 'e', mode: 'shared', amount: 800 }),
    ],
    seeded(9),
  );

  it('offers the next shared bids from buyers not already in or out of the sale', () => {
    // b and c hold slots, d rejected: one slot to refill.
    expect(keysOf(nextSharedWinners(ranked, 1, new Set(['b', 'c', 'd'])))).toEqual(['e-1']);
  });

  it('never returns exclusive bids or two bids of one buyer', () => {
    expect(keysOf(nextSharedWinners(ranked, 5, new Set(['b'])))).toEqual(['c-1', 'd-1', 'e-1']);
  });

  it('returns fewer (or none) when the ranking runs out', () => {
    expect(nextSharedWinners(ranked, 2, new Set(['b', 'c', 'd', 'e']))).toEqual([]);
    expect(nextSharedWinners(ranked, 0, new Set())).toEqual([]);
  });

  it('can skip single bids by key', () => {
    expect(keysOf(nextSharedWinners(ranked, 1, new Set(['b']), new Set(['c-1'])))).toEqual(['c-2']);
  });
});
