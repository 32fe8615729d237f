// Winner choice (PROTOCOL 5.4). Amounts are integer cents so that comparing an exclusive bid
// with the sum of a shared set is exact; randomness is injected so every decision is replayable
// in tests and explainable in a lead's timeline.

import type { SaleMode } from '../catalog/types.ts';

export interface RankedBid {
  /** Unique per bid, e.g. the campaign id. */
  key: string;
  campaignId: string;
  buyerId: string;
  mode: SaleMode;
  /** Cents. */
  amount: number;
  priority: number;
  weight: number;
}

/** Uniform in [0, 1). */
export type Random = () => number;

export interface WinnerChoice<B extends RankedBid = RankedBid> {
  mode: SaleMode;
  winners: B[];
  /** Cents: the sum of the winners' amounts. */
  total: number;
}

/**
 * Best first: amount desc, then priority desc, then a weighted random order among bids equal on
 * both (Efraimidis–Spirakis: each bid draws u and sorts by u^(1/weight), which makes a bid's
 * chance of coming first proportional to its weight). Bids with weight <= 0 (or not a number)
 * come after every positively weighted bid of the same amount and priority.
 *
 * `random` is called exactly once per bid, in input order, so a seeded source reproduces the
 * same ranking. The input array is not modified.
 */
export function rankBids<B extends RankedBid>(bids: B[], random: Random): B[] {
  const decorated = bids.map((bid) => {
    const weighted = bid.weight > 0;
    const u = random();
    // log(u)/w orders exactly like u^(1/w) but keeps precision for large weights.
    const draw = weighted ? Math.log(u) / bid.weight : Math.log(u);
    return { bid, weighted, draw };
  });
  decorated.sort((a, b) => {
    if (a.bid.amount !== b.bid.amount) return b.bid.amount - a.bid.amount;
    if (a.bid.priority !== b.bid.priority) return b.bid.priority - a.bid.priority;
    if (a.weighted !== b.weighted) return a.weighted ? -1 : 1;
    if (a.draw !== b.draw) return b.draw > a.draw ? 1 : -1;
    // Only reachable with a degenerate random source; keep the order total and stable anyway.
    return a.bid.key < b.bid.key ? -1 : a.bid.key > b.bid.key ? 1 : 0;
  });
  return decorated.map((d) => d.bid);
}

/**
 * Picks the sale from a ranking produced by rankBids. The best exclusive offer is the
 * highest-ranked exclusive bid; the best shared offer is the first `maxShared` shared bids from
 * distinct buyers in ranked order. Exclusive wins when its amount is at least the shared sum
 * (a tie goes exclusive: one buyer, one post, same money). Null when nothing is left to sell to.
 *
 * `exclude` drops bids before choosing: by buyer (a buyer that already rejected or bought this
 * lead) or by bid key (a single campaign whose reservation failed while its buyer's other
 * campaigns may still bid).
 */
export function chooseWinners<B extends RankedBid>(
  ranked: B[],
  maxShared: number,
  exclude?: { buyerIds?: Set<string>; keys?: Set<string> },
): WinnerChoice<B> | null {
  const candidates = ranked.filter(
    (bid) => !exclude?.buyerIds?.has(bid.buyerId) && !exclude?.keys?.has(bid.key),
  );
  const exclusive = candidates.find((bid) => bid.mode === 'exclusive');
  const shared = takeShared(candidates, Math.max(0, Math.floor(maxShared)), new Set());
  const sharedTotal = sum(shared);

  if (exclusive === undefined && shared.length === 0) return null;
  if (exclusive !== undefined && (shared.length === 0 || exclusive.amount >= sharedTotal)) {
    return { mode: 'exclusive', winners: [exclusive], total: exclusive.amount };
  }
  return { mode: 'shared', winners: shared, total: sharedTotal };
}

/**
 * Replacements for a shared sale that is already partly made (a winner's reservation failed or
 * its post was rejected): the next `slots` shared bids, in ranked order, from distinct buyers
 * not in `excludeBuyerIds`. Pass every buyer already holding or already refused a slot, so no
 * buyer gets the lead twice. `excludeKeys` additionally skips individual bids.
 */
export function nextSharedWinners<B extends RankedBid>(
  ranked: B[],
  slots: number,
  excludeBuyerIds: Set<string>,
  excludeKeys?: Set<string>,
): B[] {
  const candidates = excludeKeys === undefined ? ranked : ranked.filter((bid) => !excludeKeys.has(bid.key));
  return takeShared(candidates, Math.max(0, Math.floor(slots)), excludeBuyerIds);
}

function takeShared<B extends RankedBid>(ranked: B[], limit: number, excludeBuyerIds: Set<string>): B[] {
  const taken: B[] = [];
  const buyers = new Set<string>();
  for (const bid of ranked) {
    if (taken.length >= limit) break;
    if (bid.mode !== 'shared' || excludeBuyerIds.has(bid.buyerId) || buyers.has(bid.buyerId)) continue;
    buyers.add(bid.buyerId);
    taken.push(bid);
  }
  return taken;
}

function sum(bids: RankedBid[]): number {
  let total = 0;
  for (const bid of bids) total += bid.amount;
  return total;
}
