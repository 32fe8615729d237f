// The ping phase: decide who may see the lead, ask them in parallel, keep the valid bids.
import type { CampaignWithSecret } from '../catalog/types.ts';
import type { PingBody, PingOutcome } from '../buyers/buyer-client.ts';
import { cheapestSale, judgeBid } from '../auction/bids.ts';
import { capCounters, reachedCap, type CapCounter } from '../auction/caps.ts';
import { staticExclusion } from '../auction/eligibility.ts';
import { rankBids } from '../auction/ranking.ts';
import { toCents, toDollars } from '../catalog/money.ts';
import type { AuctionSubject, CollectedBid, ExchangeDeps } from './types.ts';

export async function collectBids(deps: ExchangeDeps, subject: AuctionSubject): Promise<CollectedBid[]> {
  const { catalog, store, audit, clock } = deps;
  const now = clock.now();
  const deadline = now + deps.settings.tmaxMs;
  const lead_id = subject.leadId;

  const passing: Array<{ campaign: CampaignWithSecret; counters: CapCounter[] }> = [];
  for (const campaign of catalog.campaignsFor(subject.vertical.key)) {
    const reason = staticExclusion(campaign, catalog.buyer(campaign.buyer_id), subject.data, now);
    if (reason) audit.event({ lead_id, at: now, type: 'campaign.excluded', campaign_id: campaign.id, detail: { reason } });
    else passing.push({ campaign, counters: capCounters(campaign, now) });
  }

  // Every cap of every candidate in one round trip.
  const keys = passing.flatMap((p) => p.counters.map((c) => c.key));
  const values = keys.length > 0 ? await store.readCounters(keys) : [];
  const eligible: CampaignWithSecret[] = [];
  let offset = 0;
  for (const { campaign, counters } of passing) {
    const used = values.slice(offset, offset + counters.length);
    offset += counters.length;
    const reached = reachedCap(counters, used, cheapestSale(campaign));
    if (reached) {
      audit.event({
        lead_id,
        at: now,
        type: 'campaign.excluded',
        campaign_id: campaign.id,
        detail: { reason: 'cap_reached', period: reached.period, measure: reached.measure, limit: reached.measure === 'spend' ? toDollars(reached.limit) : reached.limit },
      });
    } else {
      audit.event({ lead_id, at: now, type: 'campaign.eligible', campaign_id: campaign.id, detail: {} });
      eligible.push(campaign);
    }
  }

  const offers = await Promise.all(eligible.map((campaign) => askForBid(deps, subject, campaign, deadline)));
  const bids: CollectedBid[] = [];
  for (let i = 0; i < eligible.length; i++) {
    const offer = offers[i]!;
    if (offer) bids.push(offer);
  }
  return rankBids(bids, deps.random) as CollectedBid[];
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
    audit.bid(bidRecord(subject, campaign, { outcome: 'fixed', amount_cents: offeredCents, at: clock.now() }));
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
  deps.audit.bid(
    bidRecord(subject, campaign, {
      outcome: outcome.kind,
      amount_cents: outcome.kind === 'bid' ? outcome.amount : null,
      bid_id: outcome.kind === 'bid' ? outcome.bidId : null,
      reason: outcome.kind === 'no_bid' ? outcome.reason : null,
      latency_ms: outcome.latencyMs,
      at,
    }),
  );
}

function bidRecord(
  subject: AuctionSubject,
  campaign: CampaignWithSecret,
  fields: { outcome: 'bid' | 'no_bid' | 'fixed'; amount_cents: number | null; at: number; bid_id?: string | null; reason?: string | null; latency_ms?: number | null },
) {
  return {
    ping_id: subject.pingId,
    lead_id: subject.leadId,
    campaign_id: campaign.id,
    buyer_id: campaign.buyer_id,
    amount_cents: fields.amount_cents,
    bid_id: fields.bid_id ?? null,
    outcome: fields.outcome,
    reason: fields.reason ?? null,
    latency_ms: fields.latency_ms ?? null,
    at: fields.at,
  };
}
