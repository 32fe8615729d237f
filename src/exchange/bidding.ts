// The ping phase: decide who may see the lead, ask them in parallel, keep the valid bids.
// Everything eligibility needs from the store — the consumer's history, every cap, pacing and
// budget of every candidate — is read in the same single round trip that takes the consumer lock.
import type { CampaignWithSecret } from '../catalog/types.ts';
import type { PingBody, PingOutcome } from '../buyers/buyer-client.ts';
import { cheapestSale, judgeBid } from '../auction/bids.ts';
import { budgetCovers, paceIntervalMs } from '../auction/budget.ts';
import { capCounters, reachedCap, type CapCounter } from '../auction/caps.ts';
import { boughtWithin, exclusiveHolder, isResend, parseStamp, sentWithin } from '../auction/consumer.ts';
import { staticExclusion, type ExclusionReason } from '../auction/eligibility.ts';
import { rankBids } from '../auction/ranking.ts';
import { toCents, toDollars } from '../catalog/money.ts';
import { Conflict } from '../errors/problems.ts';
import { hashesOf, historyFields, keys } from './keys.ts';
import { ReadPlan } from './read-plan.ts';
import type { AuctionSubject, CollectedBid, ConsumerSession, ExchangeDeps } from './types.ts';

export type Opening =
  | { kind: 'resend'; session: ConsumerSession }
  | { kind: 'bids'; session: ConsumerSession; ranked: CollectedBid[]; blockedByExclusivity: boolean };

interface Candidate {
  campaign: CampaignWithSecret;
  counters: readonly CapCounter[];
  capReads: number[];
  paceRead: number | null;
  budgetRead: number | null;
  boughtReads: number[];
}

const LOCK_POLL_MS = 10;

/** Holds the consumer's lock for as long as its auction may take. */
export function consumerLockTtl(deps: ExchangeDeps): number {
  return deps.settings.tmaxMs + deps.settings.postDeadlineMs + 10_000;
}

/**
 * Takes the consumer lock and reads every key of `plan` in one round trip. Another node
 * auctioning the same consumer makes this wait for it (and then see what it sold).
 */
export async function beginConsumerAuction(deps: ExchangeDeps, lockKeys: string[], plan: ReadPlan): Promise<{ session: ConsumerSession; values: Array<string | null> }> {
  const ttl = consumerLockTtl(deps);
  const giveUpAt = deps.clock.now() + ttl;
  for (;;) {
    const start = await deps.store.beginAuction(lockKeys, ttl, plan.keys, plan.hashes);
    if (start.locked) return { session: { lockKeys, token: start.token }, values: plan.arrange(start.values) };
    if (deps.clock.now() > giveUpAt) throw new Conflict('This consumer is being auctioned by another request');
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
}

export interface ConsumerReads {
  /** The history of each contact hash, as hashes of the plan. */
  histories: number[];
  sent: number[];
  exclusive: number[];
}

/** What the exchange remembers of this consumer: the affiliate's sends and any exclusivity. */
export function planConsumerReads(plan: ReadPlan, subject: AuctionSubject): ConsumerReads {
  const histories = hashesOf(subject.hashes).map((h) => plan.addHash(keys.history(h)));
  const sent = historyFields.sent(subject.affiliateId, subject.vertical.key);
  const exclusive = historyFields.exclusive(subject.vertical.key);
  return {
    histories,
    sent: histories.map((history) => plan.field(history, sent)),
    exclusive: histories.map((history) => plan.field(history, exclusive)),
  };
}

export interface ConsumerVerdict {
  resend: boolean;
  holder: string | null;
  /** Per contact hash: sent within the window already (by this lead), so its window stands. */
  sentLive: boolean[];
}

export function judgeConsumer(reads: ConsumerReads, values: Array<string | null>, subject: AuctionSubject, now: number): ConsumerVerdict {
  const stamps = (indexes: number[]) => indexes.map((i) => parseStamp(values[i]));
  const sent = stamps(reads.sent);
  const days = subject.vertical.duplicate_days;
  return {
    resend: isResend(sent, subject.leadId, now, days),
    holder: exclusiveHolder(stamps(reads.exclusive), now, subject.vertical.exclusive_days),
    sentLive: sent.map((s) => sentWithin(s, now, days)),
  };
}

/** The buyer's purchases of this consumer, for its campaign's dedupe window. */
export function planBoughtReads(plan: ReadPlan, consumer: ConsumerReads, buyerId: string): number[] {
  const bought = historyFields.bought(buyerId);
  return consumer.histories.map((history) => plan.field(history, bought));
}

export function boughtRecently(reads: number[], values: Array<string | null>, now: number, dedupeDays: number): boolean {
  return boughtWithin(reads.map((i) => parseStamp(values[i])), now, dedupeDays);
}

export async function openAuction(deps: ExchangeDeps, subject: AuctionSubject): Promise<Opening> {
  const { catalog, audit, clock } = deps;
  const now = clock.now();
  const lead_id = subject.leadId;
  const vertical = subject.vertical;
  const hashes = hashesOf(subject.hashes);
  const exclude = (campaign: CampaignWithSecret, reason: ExclusionReason, detail: Record<string, unknown> = {}) =>
    audit.event({ lead_id, at: now, type: 'campaign.excluded', campaign_id: campaign.id, detail: { reason, ...detail } });

  const plan = new ReadPlan();
  const consumer = planConsumerReads(plan, subject);
  const candidates: Candidate[] = [];
  // A buyer's budget and purchases are read once however many of its campaigns are candidates.
  const buyerReads = new Map<string, { budgetRead: number | null; boughtReads: number[] | null }>();
  for (const campaign of catalog.campaignsFor(vertical.key)) {
    const buyer = catalog.buyer(campaign.buyer_id);
    const reason = staticExclusion(campaign, buyer, subject.data, now) ?? deps.excludeBeforePing?.(campaign) ?? null;
    if (reason || !buyer) {
      exclude(campaign, reason ?? 'buyer_unknown');
      continue;
    }
    const counters = capCounters(campaign, now);
    let ofBuyer = buyerReads.get(buyer.id);
    if (ofBuyer === undefined) {
      ofBuyer = { budgetRead: buyer.balance === null ? null : plan.add(keys.budget(buyer.id, buyer.budget_epoch ?? 0)), boughtReads: null };
      buyerReads.set(buyer.id, ofBuyer);
    }
    if (campaign.dedupe_days > 0) ofBuyer.boughtReads ??= planBoughtReads(plan, consumer, buyer.id);
    candidates.push({
      campaign,
      counters,
      capReads: counters.map((c) => plan.add(c.key)),
      paceRead: campaign.max_per_minute ? plan.add(keys.pace(campaign.id)) : null,
      budgetRead: ofBuyer.budgetRead,
      boughtReads: campaign.dedupe_days > 0 ? ofBuyer.boughtReads! : [],
    });
  }

  const { session, values } = await beginConsumerAuction(deps, hashes.map(keys.consumerLock), plan);
  const read = (index: number) => values[index] ?? null;
  const number = (index: number | null) => (index === null ? 0 : Number(read(index) ?? 0));

  const { resend, holder, sentLive } = judgeConsumer(consumer, values, subject, now);
  session.sentLive = sentLive;
  if (resend) return { kind: 'resend', session };
  // Unsold while inside someone's exclusivity window is, for the affiliate, a duplicate (3.1).
  const blockedByExclusivity = holder !== null;
  const eligible: CampaignWithSecret[] = [];
  for (const c of candidates) {
    const { campaign } = c;
    const buyer = catalog.buyer(campaign.buyer_id)!;
    if (holder !== null && holder !== buyer.id) {
      exclude(campaign, 'consumer_exclusive');
      continue;
    }
    if (boughtRecently(c.boughtReads, values, now, campaign.dedupe_days)) {
      exclude(campaign, 'already_bought', { dedupe_days: campaign.dedupe_days });
      continue;
    }
    const reached = reachedCap(c.counters, c.capReads.map(number), cheapestSale(campaign));
    if (reached) {
      exclude(campaign, 'cap_reached', {
        period: reached.period,
        measure: reached.measure,
        limit: reached.measure === 'spend' ? toDollars(reached.limit) : reached.limit,
      });
      continue;
    }
    if (c.paceRead !== null && number(c.paceRead) > now) {
      exclude(campaign, 'paced', { max_per_minute: campaign.max_per_minute, interval_ms: paceIntervalMs(campaign) });
      continue;
    }
    if (!budgetCovers(buyer, number(c.budgetRead), campaign)) {
      exclude(campaign, 'insufficient_budget');
      continue;
    }
    // No event of its own: its `campaign.pinged` (or `campaign.priced`) says it was eligible.
    eligible.push(campaign);
  }

  try {
    const offers = await withPingSlots(deps, subject, eligible, (deadline) =>
      Promise.all(eligible.map((campaign) => askForBid(deps, subject, campaign, deadline))),
    );
    const bids = offers.filter((offer): offer is CollectedBid => offer !== null);
    return { kind: 'bids', session, ranked: rankBids(bids, deps.random), blockedByExclusivity };
  } catch (error) {
    await deps.store.endAuction({ lockKeys: session.lockKeys, token: session.token }).catch(() => {});
    throw error;
  }
}

/**
 * Runs the ping phase holding a slot per ping (src/exchange/ping-slots.ts). The phase's deadline
 * starts once the slots are taken: time spent waiting for them is the exchange's, not the buyers'.
 */
async function withPingSlots<T>(deps: ExchangeDeps, subject: AuctionSubject, eligible: CampaignWithSecret[], ping: (deadline: number) => Promise<T>): Promise<T> {
  const { clock, pingSlots, settings } = deps;
  const pings = eligible.filter((campaign) => campaign.pricing.type === 'bid').length;
  if (!pingSlots || pings === 0) return ping(clock.now() + settings.tmaxMs);
  let release = pingSlots.tryAcquire(pings);
  if (release === null) {
    const asked = clock.now();
    release = await pingSlots.acquire(pings, settings.tmaxMs);
    const granted = clock.now();
    deps.audit.event({ lead_id: subject.leadId, at: granted, type: 'auction.queued', campaign_id: null, detail: { waited_ms: granted - asked, pings } });
  }
  try {
    return await ping(clock.now() + settings.tmaxMs);
  } finally {
    release();
  }
}

async function askForBid(
  deps: ExchangeDeps,
  subject: AuctionSubject,
  campaign: CampaignWithSecret,
  deadline: number,
): Promise<CollectedBid | null> {
  const { audit, clock } = deps;
  const lead_id = subject.leadId;
  let offeredCents: number;
  let bidId: string | null = null;

  if (campaign.pricing.type === 'fixed') {
    offeredCents = toCents(campaign.pricing.price);
    audit.event({ lead_id, at: clock.now(), type: 'campaign.priced', campaign_id: campaign.id, detail: { bid: campaign.pricing.price } });
    audit.asked({ campaign_id: campaign.id, at: clock.now(), offered: true });
  } else {
    const body = pingBody(subject, campaign, Math.max(0, Math.min(campaign.timeout_ms, deadline - clock.now())));
    const outcome = await deps.buyers.ping(campaign, body, deadline);
    recordPing(deps, subject, campaign, outcome);
    if (outcome.kind !== 'bid') return null;
    offeredCents = outcome.amount;
    bidId = outcome.bidId;
  }

  const decision = judgeBid(campaign, offeredCents);
  if (!decision.valid) {
    audit.event({ lead_id, at: clock.now(), type: 'bid.refused', campaign_id: campaign.id, detail: { reason: decision.reason, bid: toDollars(offeredCents) } });
    return null;
  }
  if (decision.capped) {
    audit.event({
      lead_id,
      at: clock.now(),
      type: 'bid.capped',
      campaign_id: campaign.id,
      detail: { bid: toDollars(offeredCents), max_bid: toDollars(decision.amount) },
    });
  }
  return {
    key: campaign.id,
    campaignId: campaign.id,
    buyerId: campaign.buyer_id,
    mode: campaign.mode,
    amount: decision.amount,
    priority: campaign.priority,
    weight: campaign.weight,
    campaign,
    bidId,
  };
}

/** Only non-identifying fields: `data` and the contact hashes. Personal data never goes here. */
function pingBody(subject: AuctionSubject, campaign: CampaignWithSecret, tmaxMs: number): PingBody {
  return {
    ping_id: subject.pingId,
    campaign_id: campaign.id,
    vertical: subject.vertical.key,
    mode: campaign.mode,
    data: subject.data,
    contact_hashes: subject.hashes,
    tmax_ms: tmaxMs,
  };
}

function recordPing(deps: ExchangeDeps, subject: AuctionSubject, campaign: CampaignWithSecret, outcome: PingOutcome): void {
  const at = deps.clock.now();
  const detail =
    outcome.kind === 'bid'
      ? { outcome: 'bid', bid: toDollars(outcome.amount), bid_id: outcome.bidId, latency_ms: outcome.latencyMs, status: outcome.status }
      : { outcome: 'no_bid', reason: outcome.reason, ...(outcome.detail ? { error: outcome.detail } : {}), latency_ms: outcome.latencyMs, status: outcome.status ?? null };
  deps.audit.event({ lead_id: subject.leadId, at, type: 'campaign.pinged', campaign_id: campaign.id, detail });
  deps.audit.asked({ campaign_id: campaign.id, at, offered: outcome.kind === 'bid' });
}
