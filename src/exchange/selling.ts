// The post phase (sections 5.4–5.7): choose winners, reserve their caps atomically, post the
// full lead, and fall back to the next best bid on a failed reservation or a refused post.
import type { SaleMode } from '../catalog/types.ts';
import type { PostBody } from '../buyers/buyer-client.ts';
import type { ReservationRequest } from '../store/store.ts';
import { budgetLimit, paceIntervalMs } from '../auction/budget.ts';
import { capCounters, capReservation, type CapCounter } from '../auction/caps.ts';
import { keys } from './keys.ts';
import { unavailable } from './availability.ts';
import { ServiceUnavailable } from '../errors/problems.ts';
import { recordPatienceMs } from './recording.ts';
import { chooseWinners, nextSharedWinners } from '../auction/ranking.ts';
import { totalPayout } from '../auction/settlement.ts';
import { toDollars } from '../catalog/money.ts';
import { newId } from '../ids/ids.ts';
import type { AuctionSubject, CollectedBid, ExchangeDeps, MadeSale, ReservedWinner } from './types.ts';

/** Where the sale of one lead stands; mutated as rounds go by. */
export interface SaleState {
  subject: AuctionSubject;
  /** Valid bids not yet tried, best first. */
  remaining: CollectedBid[];
  sold: MadeSale[];
  mode: SaleMode | null;
  /** Set when the auction stops for a reason the affiliate should see. */
  stopReason: 'below_min_payout' | null;
}

export interface Round {
  mode: SaleMode;
  winners: ReservedWinner[];
}

export interface FullLead {
  contact: Record<string, unknown>;
  consent: Record<string, unknown>;
  source: Record<string, unknown>;
}

export function newSaleState(subject: AuctionSubject, ranked: CollectedBid[]): SaleState {
  return { subject, remaining: ranked, sold: [], mode: null, stopReason: null };
}

/**
 * One winner's reservation, all or nothing in one script: its caps, its buyer's budget and its
 * pacing (section 5.5).
 */
function reservationFor(deps: ExchangeDeps, bid: CollectedBid, caps: readonly CapCounter[], expiresAt: number): ReservationRequest {
  const counters = capReservation(caps, bid.amount);
  const buyer = deps.catalog.buyer(bid.buyerId);
  const limit = buyer ? budgetLimit(buyer) : null;
  if (buyer && limit !== null) {
    counters.push({ key: keys.budget(buyer.id, buyer.budget_epoch ?? 0), amount: bid.amount, limit, ttlSeconds: BUDGET_TTL_S });
  }
  const interval = paceIntervalMs(bid.campaign);
  return {
    id: newId('rs'),
    counters,
    expiresAt,
    ...(interval ? { pacers: [{ key: keys.pace(bid.campaignId), intervalMs: interval, ttlSeconds: 3600, nowMs: deps.clock.now() }] } : {}),
  };
}

/** Spending of a budget epoch is kept this long: an epoch ends when the balance is set again. */
const BUDGET_TTL_S = 400 * 86_400;

function failureReason(key: string): string {
  if (key.startsWith('cap:')) return 'cap_reached';
  if (key.startsWith('budget:')) return 'insufficient_budget';
  if (key.startsWith('pace:')) return 'paced';
  return 'reservation_refused';
}

/** How long an unfinished reservation may live before the sweeper gives it back. */
export function reservationExpiry(deps: ExchangeDeps, now: number): number {
  return now + deps.settings.tmaxMs + deps.settings.postDeadlineMs + recordPatienceMs(deps.settings) + 30_000;
}

/**
 * Called as each try's reservation leaves, before its answer: the round this try makes if every
 * candidate is reserved, and the reservations the store is asked for (none when there was nothing
 * to count). A call made now goes to the store right behind the reservation.
 */
export type SendBehind = (tentative: Round, reserving: string[]) => void;

/**
 * Picks the next winners and reserves them (one store round trip per attempt). A winner whose
 * reservation fails is replaced by the next best bid. Returns null when nobody is left to try.
 */
export async function reserveNextRound(deps: ExchangeDeps, state: SaleState, expiresAt: number, behind?: SendBehind): Promise<Round | null> {
  const maxShared = state.subject.vertical.max_shared;
  const reserved: ReservedWinner[] = [];
  let mode: SaleMode | null = state.sold.length > 0 ? state.mode : null;

  for (;;) {
    let candidates: CollectedBid[];
    if (state.sold.length === 0 && reserved.length === 0) {
      const choice = chooseWinners(state.remaining, maxShared);
      if (!choice) break;
      const payoutCents = totalPayout(state.subject.payout, choice.winners.map((w) => w.amount));
      if (state.subject.minPayoutCents !== null && payoutCents < state.subject.minPayoutCents) {
        // Every later choice pays less, so this is the end of the auction.
        deps.audit.event({
          lead_id: state.subject.leadId,
          at: deps.clock.now(),
          type: 'auction.below_min_payout',
          campaign_id: null,
          detail: { payout: toDollars(payoutCents), min_payout: toDollars(state.subject.minPayoutCents) },
        });
        state.stopReason = 'below_min_payout';
        break;
      }
      mode = choice.mode;
      candidates = choice.winners;
      deps.audit.event({
        lead_id: state.subject.leadId,
        at: deps.clock.now(),
        type: 'auction.choice',
        campaign_id: null,
        detail: { mode, total: toDollars(choice.total), winners: candidates.map((w) => ({ campaign_id: w.campaignId, bid: toDollars(w.amount) })) },
      });
    } else if (mode === 'shared') {
      const slots = maxShared - state.sold.length - reserved.length;
      if (slots <= 0) break;
      const taken = new Set([...state.sold.map((s) => s.bid.buyerId), ...reserved.map((r) => r.bid.buyerId)]);
      candidates = nextSharedWinners(state.remaining, slots, taken);
      if (candidates.length === 0) break;
    } else {
      break;
    }

    const tried = new Set(candidates.map((c) => c.key));
    state.remaining = state.remaining.filter((bid) => !tried.has(bid.key));
    const now = deps.clock.now();
    const caps = candidates.map((bid) => capCounters(bid.campaign, now));
    const requests: ReservationRequest[] = candidates.map((bid, i) => reservationFor(deps, bid, caps[i]!, expiresAt));
    // Nothing to count means nothing to reserve: skip the round trip.
    const counted = requests.some((r) => r.counters.length > 0 || (r.pacers?.length ?? 0) > 0);
    const reserving = counted ? deps.store.reserve(requests) : null;
    if (behind && mode !== null) {
      const tentative = candidates.map((bid, i): ReservedWinner => ({ bid, reservationId: requests[i]!.id, caps: caps[i]!, capValues: [] }));
      behind({ mode, winners: [...reserved, ...tentative] }, counted ? requests.map((r) => r.id) : []);
    }
    const outcomes = reserving ? await reserving : requests.map((r) => ({ id: r.id, ok: true as const, values: [] }));

    let failed = false;
    for (let i = 0; i < candidates.length; i++) {
      const bid = candidates[i]!;
      const outcome = outcomes[i]!;
      if (outcome.ok) {
        const capped = caps[i]!;
        reserved.push({ bid, reservationId: outcome.id, caps: capped, capValues: outcome.values.slice(0, capped.length) });
        deps.audit.event({ lead_id: state.subject.leadId, at: now, type: 'reservation.made', campaign_id: bid.campaignId, detail: { reservation_id: outcome.id, price: toDollars(bid.amount) } });
      } else {
        failed = true;
        deps.audit.event({
          lead_id: state.subject.leadId,
          at: now,
          type: 'reservation.failed',
          campaign_id: bid.campaignId,
          detail: { reason: failureReason(outcome.failedKey), counter: outcome.failedKey },
        });
      }
    }
    if (!failed) break;
  }

  if (reserved.length === 0 || mode === null) return null;
  state.mode = mode;
  return { mode, winners: reserved };
}

/**
 * Posts rounds of winners until the lead is sold out (exclusive, or max_shared buyers), nobody is
 * left, or the post deadline passes. Reservations of refused posts are released at once;
 * accepted ones stay open until the sale is recorded.
 */
export async function postRounds(
  deps: ExchangeDeps,
  state: SaleState,
  lead: FullLead,
  firstRound: Round | null,
  deadline: number,
): Promise<void> {
  // Releases of refused posts, which the next round does not wait for (see postTo); the lead is
  // only settled once they have all ended.
  const releasing: Array<Promise<void>> = [];
  try {
    await postAllRounds(deps, state, lead, firstRound, deadline, releasing);
  } finally {
    await Promise.all(releasing);
  }
}

async function postAllRounds(
  deps: ExchangeDeps,
  state: SaleState,
  lead: FullLead,
  firstRound: Round | null,
  deadline: number,
  releasing: Array<Promise<void>>,
): Promise<void> {
  const expiresAt = reservationExpiry(deps, deps.clock.now());
  let round = firstRound ?? (await reserveNextRound(deps, state, expiresAt));
  while (round) {
    // No lead reaches a buyer that could not be recorded: a dependency may have failed during
    // the ping phase or the previous round.
    if (deps.availability.unavailable() !== null) {
      // Not awaited: a store that is down would hold the answer for its whole timeout, and a
      // release that does not land expires anyway.
      void releaseReservations(deps, state.subject.leadId, round.winners, 'dependency_unavailable').catch(() => {});
      stopsForOutage(deps, state);
      break;
    }
    const results = await Promise.all(round.winners.map((winner) => postTo(deps, state, lead, round!.mode, winner, deadline, releasing)));
    for (const sale of results) if (sale) state.sold.push(sale);
    if (state.mode === 'exclusive' && state.sold.length > 0) break;
    if (state.sold.length >= state.subject.vertical.max_shared) break;
    if (deps.clock.now() >= deadline) break;
    // A store that failed a release would only make the next reservation wait for it too.
    if (stopsForOutage(deps, state)) break;
    try {
      round = await reserveNextRound(deps, state, expiresAt);
    } catch (error) {
      // The buyers who accepted hold the lead already: settle their sales rather than lose them.
      if (state.sold.length === 0) throw error;
      break;
    }
  }
}

/**
 * True when a dependency is down and the buyers who accepted should be settled now; throws 503
 * when none has accepted yet.
 */
function stopsForOutage(deps: ExchangeDeps, state: SaleState): boolean {
  const down = deps.availability.unavailable();
  if (down === null) return false;
  if (state.sold.length === 0) throw unavailable(down, 'the lead was not posted to any buyer');
  return true;
}

async function postTo(
  deps: ExchangeDeps,
  state: SaleState,
  lead: FullLead,
  mode: SaleMode,
  winner: ReservedWinner,
  deadline: number,
  releasing: Array<Promise<void>>,
): Promise<MadeSale | null> {
  const { bid, reservationId } = winner;
  const saleId = newId('sl');
  const body: PostBody = {
    lead_id: state.subject.leadId,
    ping_id: state.subject.pingId,
    bid_id: bid.bidId,
    campaign_id: bid.campaignId,
    price: toDollars(bid.amount),
    vertical: state.subject.vertical.key,
    mode,
    data: state.subject.data,
    contact: lead.contact,
    consent: lead.consent,
    source: lead.source,
  };
  const outcome = await deps.buyers.post(bid.campaign, body, saleId, deadline);
  const at = deps.clock.now();
  const lead_id = state.subject.leadId;
  if (outcome.kind === 'accepted') {
    deps.audit.event({
      lead_id,
      at,
      type: 'post.accepted',
      campaign_id: bid.campaignId,
      detail: { sale_id: saleId, attempts: outcome.attempts, latency_ms: outcome.latencyMs, buyer_lead_id: outcome.buyerLeadId },
    });
    return { saleId, bid, reservationId, caps: winner.caps, capValues: winner.capValues, buyerLeadId: outcome.buyerLeadId, redirectUrl: outcome.redirectUrl };
  }
  deps.audit.event({
    lead_id,
    at,
    type: outcome.kind === 'rejected' ? 'post.rejected' : 'post.failed',
    campaign_id: bid.campaignId,
    detail: {
      reason: outcome.reason,
      attempts: outcome.attempts,
      latency_ms: outcome.latencyMs,
      ...(outcome.kind === 'failed' && outcome.detail ? { error: outcome.detail } : {}),
    },
  });
  // The next bid is not kept waiting for this release: the store carries out calls in the order
  // they are made, so the next round's reservation is counted after it all the same. If the store
  // is down the reservation simply expires and the sweeper gives it back; other winners of this
  // round may have accepted, and their sales must still be settled.
  const why = outcome.kind === 'rejected' ? 'post_rejected' : 'post_failed';
  releasing.push(
    releaseReservations(deps, lead_id, [winner], why).catch((error: unknown) => {
      if (error instanceof ServiceUnavailable) deps.availability.reportFailure(deps.store.kind);
      deps.log.warn({ err: error, lead_id, reservation_id: reservationId }, 'could not release a reservation; it will expire');
    }),
  );
  return null;
}

export async function releaseReservations(deps: ExchangeDeps, leadId: string, winners: ReservedWinner[], why: string): Promise<void> {
  if (winners.length === 0) return;
  await deps.store.release(winners.map((w) => w.reservationId));
  const at = deps.clock.now();
  for (const w of winners) {
    deps.audit.event({ lead_id: leadId, at, type: 'reservation.released', campaign_id: w.bid.campaignId, detail: { reservation_id: w.reservationId, why } });
  }
}
