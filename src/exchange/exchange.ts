// The exchange's use cases: direct post, two-phase ping and post. Orchestrates the pure auction
// rules (src/auction) over the ports (buyers, store, database, audit).
import type { Affiliate, SaleMode } from '../catalog/types.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { DirectLead, PingRequest, PostRequest } from '../lead/requests.ts';
import type { NewLead, NewSale } from '../db/schema.ts';
import { capAlerts } from '../auction/caps.ts';
import { payoutsFor, totalPayout } from '../auction/settlement.ts';
import { toCents, toDollars } from '../catalog/money.ts';
import { canonicalJson } from '../lead/canonical-json.ts';
import { qualityReasons } from '../lead/quality.ts';
import { Conflict, Gone, NotFound, ServiceUnavailable, Unprocessable } from '../errors/problems.ts';
import { newId } from '../ids/ids.ts';
import type { AuctionEnd } from '../store/store.ts';
import {
  beginConsumerAuction, boughtRecently, consumerLockTtl, judgeConsumer, openAuction, planBoughtReads, planConsumerReads, type ConsumerReads,
} from './bidding.ts';
import { consumerWrites } from './consumer-memory.ts';
import { requireAvailable } from './availability.ts';
import { longestAnswerMs, recordLeadDurably, recordPatienceMs } from './recording.ts';
import { fromHeldBid, HOLD_GRACE_MS, holdKey, toHeldBid, type HoldPayload } from './holds.ts';
import { HoldCache } from './hold-cache.ts';
import { hashesOf, keys } from './keys.ts';
import { ReadPlan } from './read-plan.ts';
import { newSaleState, postRounds, releaseReservations, reserveNextRound, type FullLead, type Round, type SaleState, type SendBehind } from './selling.ts';
import type { AuctionSubject, CollectedBid, ConsumerSession, ExchangeDeps, LeadAnswer, PingAnswer, ReservedWinner } from './types.ts';

export interface DirectPostOptions {
  idempotency: {
    key: string;
    /** Canonical hash of the request body, to refuse a reused key with another body. */
    requestHash: string;
  } | null;
}

/** How a lead ends when it never reached (or could not finish) an auction. */
interface Verdict {
  rejectReasons?: string[];
  duplicateReasons?: string[];
  /** Unsold because another buyer holds the consumer exclusively: the affiliate sees `duplicate`. */
  duplicateIfUnsold?: boolean;
}

const RESEND = ['duplicate_consumer'];
const EXCLUSIVE_ELSEWHERE = ['exclusive_to_another_buyer'];

/** Holds a node keeps in memory for their posts (src/exchange/hold-cache.ts), at most. */
const REMEMBERED_HOLDS = 50_000;

export class Exchange {
  readonly #deps: ExchangeDeps;
  readonly #holds = new HoldCache(REMEMBERED_HOLDS);

  constructor(deps: ExchangeDeps) {
    this.#deps = deps;
  }

  // --- 3.1 direct post

  async directPost(affiliate: Affiliate, lead: DirectLead, options: DirectPostOptions): Promise<LeadAnswer> {
    requireAvailable(this.#deps.availability, 'nothing was sent to buyers');
    const { idempotency } = options;
    if (!idempotency) return this.#directPost(affiliate, lead, null, null);
    const { key, requestHash } = idempotency;
    return this.#oncePerKey(affiliate, key, requestHash, () => this.#directPost(affiliate, lead, key, requestHash));
  }

  async #directPost(affiliate: Affiliate, lead: DirectLead, idempotencyKey: string | null, requestHash: string | null): Promise<LeadAnswer> {
    const { clock, audit } = this.#deps;
    const started = clock.now();
    const subject: AuctionSubject = {
      leadId: newId('ld'),
      pingId: newId('pg'),
      affiliateId: affiliate.id,
      payout: affiliate.payout,
      vertical: lead.vertical,
      data: lead.data,
      hashes: lead.hashes,
      minPayoutCents: lead.min_payout === null ? null : toCents(lead.min_payout),
    };
    audit.event({ lead_id: subject.leadId, at: started, type: 'lead.received', campaign_id: null, detail: { via: 'direct', affiliate_id: affiliate.id } });
    const full: FullLead = { contact: lead.contact, consent: lead.consent, source: lead.source };
    const record = { idempotencyKey, requestHash };

    const reasons = qualityReasons(lead);
    if (reasons.length > 0) return this.#settle(newSaleState(subject, []), full, record, { rejectReasons: reasons }, null, 'direct', started);

    const opening = await openAuction(this.#deps, subject);
    return this.#withSession(opening.session, async () => {
      if (opening.kind === 'resend') {
        return this.#settle(newSaleState(subject, []), full, record, { duplicateReasons: RESEND }, opening.session, 'direct', started);
      }
      const state = newSaleState(subject, opening.ranked);
      await postRounds(this.#deps, state, full, null, clock.now() + this.#deps.settings.postDeadlineMs);
      return this.#settle(state, full, record, { duplicateIfUnsold: opening.blockedByExclusivity }, opening.session, 'direct', started);
    });
  }

  /**
   * One answer per Idempotency-Key: a concurrent retry waits for the first attempt and gets its
   * answer; a retry after it gets the stored answer; the same key with another body is 422.
   */
  async #oncePerKey(affiliate: Affiliate, key: string, requestHash: string, run: () => Promise<LeadAnswer>): Promise<LeadAnswer> {
    const { store, leads, settings, clock } = this.#deps;
    const lockKey = `idem:${affiliate.id}:${key}`;
    const ttlMs = longestAnswerMs(settings) + 10_000;
    const giveUpAt = clock.now() + ttlMs;
    let token = await store.acquireLock(lockKey, ttlMs);
    while (!token) {
      if (clock.now() > giveUpAt) throw new Conflict('A request with this Idempotency-Key is still in progress');
      await new Promise((resolve) => setTimeout(resolve, 20));
      token = await store.acquireLock(lockKey, ttlMs);
    }
    try {
      const existing = await leads.findByIdempotencyKey(affiliate.id, key);
      if (existing) {
        if (existing.request_hash !== requestHash) {
          throw new Unprocessable('This Idempotency-Key was already used with a different body', [
            { path: 'Idempotency-Key', message: 'already used with a different body' },
          ]);
        }
        return existing.response as unknown as LeadAnswer;
      }
      return await run();
    } finally {
      await store.releaseLock(lockKey, token).catch(() => {});
    }
  }

  // --- 3.2 two-phase: ping

  async ping(affiliate: Affiliate, request: PingRequest): Promise<PingAnswer> {
    const { clock, audit, settings, catalog, store } = this.#deps;
    // A hold whose post could not be recorded is worth nothing: refuse it up front.
    requireAvailable(this.#deps.availability, 'nothing was sent to buyers');
    const subject: AuctionSubject = {
      leadId: newId('ld'),
      pingId: newId('pg'),
      affiliateId: affiliate.id,
      payout: affiliate.payout,
      vertical: request.vertical,
      data: request.data,
      hashes: request.hashes,
      minPayoutCents: request.min_payout === null ? null : toCents(request.min_payout),
    };
    const receivedAt = clock.now();
    audit.event({ lead_id: subject.leadId, at: receivedAt, type: 'lead.received', campaign_id: null, detail: { via: 'ping', ping_id: subject.pingId, affiliate_id: affiliate.id } });
    const pingRecord = {
      id: subject.pingId,
      lead_id: subject.leadId,
      affiliate_id: affiliate.id,
      vertical: subject.vertical.key,
      data: subject.data,
      email_sha256: subject.hashes.email_sha256 ?? null,
      phone_sha256: subject.hashes.phone_sha256 ?? null,
      min_payout_cents: subject.minPayoutCents,
      at: receivedAt,
    };
    const noBid = (reason: string): PingAnswer => {
      audit.ping({ ...pingRecord, status: 'no_bid', mode: null, payout_cents: null, expires_at: null });
      audit.event({ lead_id: subject.leadId, at: clock.now(), type: 'lead.unsold', campaign_id: null, detail: { via: 'ping', reason } });
      this.#deps.metrics.leads.inc({ via: 'ping', status: reason === 'duplicate' ? 'duplicate' : 'no_bid' });
      return reason === 'duplicate' ? { ping_id: subject.pingId, status: 'no_bid', reason } : { ping_id: subject.pingId, status: 'no_bid' };
    };

    const opening = await openAuction(this.#deps, subject);
    return this.#withSession(opening.session, async () => {
      if (opening.kind === 'resend') return noBid('duplicate');
      // The ping itself is a send of this consumer by this affiliate (when it gave the hashes).
      const writes = consumerWrites(catalog, subject, [], null, clock.now(), opening.session);
      const state = newSaleState(subject, opening.ranked);
      const expiresAt = clock.now() + settings.holdTtlMs;
      const holdOf = (round: Round): HoldPayload => ({
        lead_id: subject.leadId,
        ping_id: subject.pingId,
        affiliate_id: affiliate.id,
        vertical: subject.vertical.key,
        data: subject.data,
        hashes: subject.hashes,
        min_payout_cents: subject.minPayoutCents,
        expires_at: expiresAt,
        mode: round.mode,
        payout_cents: totalPayout(affiliate.payout, round.winners.map((w) => w.bid.amount)),
        winners: round.winners.map((w) => ({ ...toHeldBid(w.bid), reservation_id: w.reservationId })),
        remaining: state.remaining.map(toHeldBid),
      });
      // The hold leaves with the end of the session: one store call.
      const endWith = (hold: HoldPayload) => ({
        fieldWrites: writes,
        hold: { id: holdKey(affiliate.id, subject.pingId), record: { payload: JSON.stringify(hold), reservationIds: hold.winners.map((w) => w.reservation_id) }, ttlMs: settings.holdTtlMs + HOLD_GRACE_MS },
      });
      // And it goes right behind each try's reservation, in the same round trip: the store keeps
      // it only if that try reserved every winner, which is how nearly every ping goes.
      const sentHolds: Array<{ hold: HoldPayload; stored: Promise<boolean> }> = [];
      const sendHold: SendBehind = (tentative, reserving) => {
        const hold = holdOf(tentative);
        const stored = store.endAuction({ lockKeys: opening.session.lockKeys, token: opening.session.token, ...endWith(hold), ifOpen: reserving });
        // Read below once the tries are answered; until then a store failure must not go unhandled.
        stored.catch(() => {});
        sentHolds.push({ hold, stored });
      };
      const round = await reserveNextRound(this.#deps, state, expiresAt, sendHold);
      const notStored = () => Promise.allSettled(sentHolds.map((sent) => sent.stored));
      if (!round) {
        // No try reserved all its winners, so none of the holds sent behind them was stored.
        await notStored();
        await this.#endSession(opening.session, { fieldWrites: writes });
        return noBid(state.stopReason ?? (opening.blockedByExclusivity ? 'duplicate' : 'no_bid'));
      }

      let hold: HoldPayload;
      try {
        const last = sentHolds.at(-1);
        const reservationIds = round.winners.map((w) => w.reservationId).join();
        if (last && last.hold.winners.map((w) => w.reservation_id).join() === reservationIds && (await last.stored)) {
          hold = last.hold;
          opening.session.ended = true;
        } else {
          // A shared round that kept only some of a try's winners: its hold was not stored.
          await notStored();
          hold = holdOf(round);
          await this.#endSession(opening.session, endWith(hold));
        }
      } catch (error) {
        await releaseReservations(this.#deps, subject.leadId, round.winners, 'hold_not_stored').catch(() => {});
        throw error;
      }
      this.#holds.remember(holdKey(affiliate.id, subject.pingId), hold, clock.now());
      const payoutCents = hold.payout_cents;
      audit.ping({ ...pingRecord, status: 'bid', mode: round.mode, payout_cents: payoutCents, expires_at: expiresAt });
      audit.event({ lead_id: subject.leadId, at: clock.now(), type: 'hold.created', campaign_id: null, detail: { expires_at: new Date(expiresAt).toISOString(), payout: toDollars(payoutCents), mode: round.mode } });
      this.#deps.metrics.leads.inc({ via: 'ping', status: 'bid' });
      return { ping_id: subject.pingId, status: 'bid', payout: toDollars(payoutCents), mode: round.mode, expires_at: new Date(expiresAt).toISOString() };
    });
  }

  // --- 3.2 two-phase: post

  async post(affiliate: Affiliate, request: PostRequest): Promise<LeadAnswer> {
    const { clock, store, catalog, leads, settings } = this.#deps;
    // Before the claim, so the hold can still be posted once the outage is over.
    requireAvailable(this.#deps.availability, 'the hold is kept: post again shortly');
    const claimedAt = clock.now();
    const id = holdKey(affiliate.id, request.ping_id);
    // A post that reaches the node of its ping knows the hold before claiming it, so the claim
    // also takes the consumer lock and reads the consumer's history: one round trip, not two.
    const known = this.#holds.take(id, claimedAt);
    const early = known ? postAuction(catalog, affiliate, request, known) : null;
    const earlyReads = early?.reads;
    const begin = earlyReads
      ? { lockKeys: earlyReads.lockKeys, lockTtlMs: consumerLockTtl(this.#deps), readKeys: earlyReads.plan.keys, readHashes: earlyReads.plan.hashes }
      : undefined;
    const claim = await store.claimHold(id, claimedAt + settings.postDeadlineMs + recordPatienceMs(settings) + 30_000, begin);
    if (claim.state === 'missing') {
      if (await leads.pingExists(request.ping_id, affiliate.id)) throw new Gone(`Ping ${request.ping_id} has expired`);
      throw new NotFound(`No ping ${request.ping_id}`);
    }
    if (claim.state === 'already_claimed') throw new Conflict(`Ping ${request.ping_id} was already posted`);

    const hold = known ?? (JSON.parse(claim.hold.payload) as HoldPayload);
    const auction = early ?? postAuction(catalog, affiliate, request, hold);
    const started = earlyReads && claim.start?.locked ? { session: { lockKeys: earlyReads.lockKeys, token: claim.start.token }, values: earlyReads.plan.arrange(claim.start.values) } : null;
    try {
      return await this.#postClaimed(request, hold, auction, claimedAt, started);
    } finally {
      // Whichever way the post left, a lock the claim took goes with it (once: see #endSession).
      if (started) await this.#endSession(started.session);
    }
  }

  async #postClaimed(
    request: PostRequest,
    hold: HoldPayload,
    auction: PostAuction,
    claimedAt: number,
    started: { session: ConsumerSession; values: Array<string | null> } | null,
  ): Promise<LeadAnswer> {
    const { clock, audit, store, settings } = this.#deps;
    await store.release(auction.orphaned);
    let winners = auction.winners;
    const giveBack = (why: string, which: ReservedWinner[] = winners) => releaseReservations(this.#deps, hold.lead_id, which, why);

    if (claimedAt > hold.expires_at) {
      audit.event({ lead_id: hold.lead_id, at: claimedAt, type: 'hold.expired', campaign_id: null, detail: { expired_at: new Date(hold.expires_at).toISOString() } });
      await giveBack('hold_expired');
      throw new Gone(`Ping ${request.ping_id} expired at ${new Date(hold.expires_at).toISOString()}`);
    }
    if (request.data !== null && canonicalJson(request.data) !== canonicalJson(hold.data)) {
      await giveBack('post_data_mismatch');
      throw new Conflict('The posted data differs from the pinged data', [{ path: 'data', message: 'must equal the data sent with the ping' }]);
    }
    for (const [field, hashKey] of [['email', 'email_sha256'], ['phone', 'phone_sha256']] as const) {
      const pinged = hold.hashes[hashKey];
      if (pinged !== undefined && pinged !== request.hashes[hashKey]) {
        await giveBack('post_contact_mismatch');
        throw new Conflict(`The posted contact.${field} does not match the ${hashKey} sent with the ping`, [
          { path: `contact.${field}`, message: `does not match the pinged ${hashKey}` },
        ]);
      }
    }
    const { subject, reads } = auction;
    if (!subject || !reads) {
      await giveBack('vertical_removed');
      throw new Gone(`Vertical ${hold.vertical} no longer exists`);
    }
    audit.event({ lead_id: hold.lead_id, at: claimedAt, type: 'hold.claimed', campaign_id: null, detail: { ping_id: hold.ping_id } });

    const full: FullLead = { contact: request.contact, consent: request.consent, source: request.source };
    const record = { idempotencyKey: null, requestHash: null };
    const reasons = qualityReasons(request);
    if (reasons.length > 0) {
      await giveBack('lead_rejected');
      return this.#settle(newSaleState(subject, []), full, record, { rejectReasons: reasons }, null, 'post', claimedAt);
    }

    // Now the contact is known: screen the held bids against the consumer's history, under its lock.
    let remaining = auction.remaining;
    const { consumer, bought } = reads;
    const { session, values } = started ?? (await beginConsumerAuction(this.#deps, reads.lockKeys, reads.plan));
    return this.#withSession(session, async () => {
      const now = clock.now();
      const { resend, holder, sentLive } = judgeConsumer(consumer, values, subject, now);
      session.sentLive = sentLive;
      if (resend) {
        await giveBack('duplicate_consumer');
        return this.#settle(newSaleState(subject, []), full, record, { duplicateReasons: RESEND }, session, 'post', claimedAt);
      }
      const blockedByExclusivity = holder !== null;
      const screen = (bid: CollectedBid): boolean => {
        const reason = holder !== null && holder !== bid.buyerId ? 'consumer_exclusive' : boughtRecently(bought.get(bid.buyerId) ?? [], values, now, bid.campaign.dedupe_days) ? 'already_bought' : null;
        if (reason) audit.event({ lead_id: subject.leadId, at: now, type: 'campaign.excluded', campaign_id: bid.campaignId, detail: { reason } });
        return reason === null;
      };
      const screenedOut = winners.filter((w) => !screen(w.bid));
      if (screenedOut.length > 0) {
        await giveBack('consumer_screen', screenedOut);
        winners = winners.filter((w) => !screenedOut.includes(w));
      }
      remaining = remaining.filter(screen);

      const state = newSaleState(subject, remaining);
      const firstRound = winners.length > 0 ? { mode: hold.mode, winners } : null;
      if (firstRound) state.mode = hold.mode;
      await postRounds(this.#deps, state, full, firstRound, clock.now() + settings.postDeadlineMs);
      return this.#settle(state, full, record, { duplicateIfUnsold: blockedByExclusivity }, session, 'post', claimedAt);
    });
  }

  // --- consumer sessions

  /**
   * Runs an auction step holding the consumer's lock. The step ends the session itself with what
   * the lead taught (see #settle); whatever way it leaves, the lock goes with it.
   */
  async #withSession<T>(session: ConsumerSession, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } finally {
      await this.#endSession(session);
    }
  }

  /**
   * Ends the session in one store call that also commits `commitIds` (the sales of a recorded
   * lead) and stores `hold` (a ping's bid). Only a hold that may not be stored is an error the
   * caller sees: the ping must not answer with a bid that cannot be posted.
   */
  async #endSession(session: ConsumerSession, end: Omit<AuctionEnd, 'lockKeys' | 'token'> = {}): Promise<void> {
    const { commits, store, log } = this.#deps;
    if (session.ended) {
      if (end.hold) throw new Error('a hold can only be stored while its consumer session is open');
      return commits.commit(end.commitIds ?? []);
    }
    session.ended = true;
    try {
      await store.endAuction({ lockKeys: session.lockKeys, token: session.token, ...end });
    } catch (error) {
      if (end.hold) {
        // Still the caller's to end: the session's finally tries the lock again on its own.
        session.ended = false;
        throw error;
      }
      // The lead is recorded either way. Its sales' commit must still land before the sweeper
      // would give their caps back, so the committer retries it; the lock expires by itself, and
      // only the consumer's history (dedupe, exclusivity) misses this lead.
      commits.retry(end.commitIds ?? [], error);
      log.error({ err: error }, 'could not end a consumer auction in the store');
    }
  }

  // --- 5.7 / 5.8 settle and record

  async #settle(
    state: SaleState,
    full: FullLead,
    record: { idempotencyKey: string | null; requestHash: string | null },
    verdict: Verdict,
    session: ConsumerSession | null,
    via: 'direct' | 'post',
    startedAt: number,
  ): Promise<LeadAnswer> {
    const { clock, audit, commits, metrics } = this.#deps;
    const { subject, sold } = state;
    const prices = sold.map((s) => s.bid.amount);
    const payouts = payoutsFor(subject.payout, prices);
    const mode: SaleMode | null = sold.length > 0 ? state.mode : null;
    let status: LeadAnswer['status'] = sold.length > 0 ? 'sold' : 'unsold';
    let reasons: string[] = status === 'unsold' && state.stopReason ? [state.stopReason] : [];
    if (verdict.rejectReasons?.length) [status, reasons] = ['rejected', verdict.rejectReasons];
    else if (verdict.duplicateReasons?.length) [status, reasons] = ['duplicate', verdict.duplicateReasons];
    else if (status === 'unsold' && verdict.duplicateIfUnsold) [status, reasons] = ['duplicate', EXCLUSIVE_ELSEWHERE];
    const answer: LeadAnswer = {
      lead_id: subject.leadId,
      status,
      mode,
      payout: toDollars(payouts.reduce((a, b) => a + b, 0)),
      buyers: sold.length,
      redirect_url: sold.find((s) => s.redirectUrl)?.redirectUrl ?? null,
      ...(reasons.length > 0 ? { reasons } : {}),
    };
    const now = clock.now();
    const lead: NewLead = {
      id: subject.leadId,
      affiliate_id: subject.affiliateId,
      vertical: subject.vertical.key,
      ping_id: subject.pingId,
      data: JSON.stringify(subject.data),
      contact: JSON.stringify(full.contact),
      consent: JSON.stringify(full.consent),
      source: JSON.stringify(full.source),
      email_sha256: subject.hashes.email_sha256 ?? null,
      phone_sha256: subject.hashes.phone_sha256 ?? null,
      status,
      mode,
      reasons: JSON.stringify(reasons),
      price_cents: prices.reduce((a, b) => a + b, 0),
      payout_cents: payouts.reduce((a, b) => a + b, 0),
      min_payout_cents: subject.minPayoutCents,
      idempotency_key: record.idempotencyKey,
      request_hash: record.requestHash,
      response: JSON.stringify(answer),
      created_at: new Date(now),
    };
    const sales: NewSale[] = sold.map((sale, i) => ({
      id: sale.saleId,
      lead_id: subject.leadId,
      campaign_id: sale.bid.campaignId,
      buyer_id: sale.bid.buyerId,
      affiliate_id: subject.affiliateId,
      vertical: subject.vertical.key,
      mode: mode ?? sale.bid.mode,
      price_cents: sale.bid.amount,
      payout_cents: payouts[i]!,
      bid_id: sale.bid.bidId,
      buyer_lead_id: sale.buyerLeadId,
      redirect_url: sale.redirectUrl,
      email_sha256: subject.hashes.email_sha256 ?? null,
      phone_sha256: subject.hashes.phone_sha256 ?? null,
      created_at: new Date(now),
    }));

    const recordingFrom = clock.now();
    try {
      await recordLeadDurably(this.#deps, lead, sales, this.#deps.settings);
    } catch (error) {
      if (sales.length > 0) {
        // The buyers hold a lead the exchange has no record of: say exactly which, to reconcile.
        this.#deps.log.error(
          { err: error, lead_id: subject.leadId, sales: sales.map((s) => ({ sale_id: s.id, campaign_id: s.campaign_id, price_cents: s.price_cents })) },
          'sale accepted by buyers could not be recorded',
        );
      }
      // Not recorded means not sold: give the caps back and tell the affiliate to retry.
      await releaseReservations(this.#deps, subject.leadId, sold.map((s) => ({ bid: s.bid, reservationId: s.reservationId, caps: [], capValues: [] })), 'not_recorded').catch(() => {});
      throw new ServiceUnavailable('The lead could not be recorded; nothing was sold', 1, error);
    }
    // The timeline says when the sale became a record, not when its row was built: the wait for
    // Postgres belongs between the buyer's acceptance and the sale, where a dispute looks for it.
    const recordedAt = clock.now();
    metrics.recordSeconds.observe((recordedAt - recordingFrom) / 1000);
    // The sale stands (it is recorded): one store call commits its reservations, writes what the
    // lead taught about the consumer and releases the consumer's lock. The answer does not wait
    // for it: the record is what makes the sale, a commit the store cannot take is retried, and
    // until the lock goes another auction of this consumer waits and then sees this one's writes.
    // Being unhurried, it may leave with the store's next call instead of waking Redis alone.
    const commitIds = sold.map((s) => s.reservationId);
    if (session) {
      const writes = status === 'duplicate' ? [] : consumerWrites(this.#deps.catalog, subject, sold, mode, now, session);
      commits.track(this.#endSession(session, { fieldWrites: writes, commitIds, unhurried: true }));
    } else {
      commits.track(commits.commit(commitIds));
    }

    for (let i = 0; i < sold.length; i++) {
      const sale = sold[i]!;
      audit.event({
        lead_id: subject.leadId,
        at: recordedAt,
        type: 'sale.recorded',
        campaign_id: sale.bid.campaignId,
        detail: { sale_id: sale.saleId, buyer_id: sale.bid.buyerId, price: toDollars(sale.bid.amount), payout: toDollars(payouts[i]!) },
      });
      for (const alert of capAlerts(sale.caps, sale.capValues, sale.bid.amount)) {
        const { period, measure, limit } = alert.counter;
        const money = (cents: number) => (measure === 'spend' ? toDollars(cents) : cents);
        audit.event({ lead_id: subject.leadId, at: recordedAt, type: 'cap.alert', campaign_id: sale.bid.campaignId, detail: { level: alert.level, period, measure, used: money(alert.used), limit: money(limit) } });
        metrics.capAlerts.inc({ campaign_id: sale.bid.campaignId, period, measure, level: String(alert.level) });
      }
    }
    const type = status === 'sold' ? 'lead.sold' : status === 'rejected' ? 'lead.rejected' : 'lead.unsold';
    audit.event({ lead_id: subject.leadId, at: recordedAt, type, campaign_id: null, detail: { status, mode, payout: answer.payout, buyers: sold.length, ...(reasons.length > 0 ? { reasons } : {}) } });
    metrics.leads.inc({ via, status });
    metrics.auctionSeconds.observe({ via }, (clock.now() - startedAt) / 1000);
    return answer;
  }
}

/** A claimed hold's bids, rebuilt from the current configuration, and what screening them reads. */
interface PostAuction {
  winners: ReservedWinner[];
  /** Reservations of held winners whose campaign is gone meanwhile. */
  orphaned: string[];
  remaining: CollectedBid[];
  /** Null, with `reads`, when the hold's vertical no longer exists. */
  subject: AuctionSubject | null;
  reads: { lockKeys: string[]; plan: ReadPlan; consumer: ConsumerReads; bought: Map<string, number[]> } | null;
}

function postAuction(catalog: Catalog, affiliate: Affiliate, request: PostRequest, hold: HoldPayload): PostAuction {
  const winners: ReservedWinner[] = [];
  const orphaned: string[] = [];
  for (const held of hold.winners) {
    const bid = fromHeldBid(catalog, held);
    if (bid) winners.push({ bid, reservationId: held.reservation_id, caps: [], capValues: [] });
    else orphaned.push(held.reservation_id);
  }
  const remaining = hold.remaining.flatMap((held) => fromHeldBid(catalog, held) ?? []);
  const vertical = catalog.vertical(hold.vertical);
  if (!vertical) return { winners, orphaned, remaining, subject: null, reads: null };
  const subject: AuctionSubject = {
    leadId: hold.lead_id,
    pingId: hold.ping_id,
    affiliateId: affiliate.id,
    payout: affiliate.payout,
    vertical,
    data: hold.data,
    // The post is refused unless its contact matches every hash the ping gave.
    hashes: { ...hold.hashes, ...request.hashes },
    minPayoutCents: hold.min_payout_cents,
  };
  const plan = new ReadPlan();
  const consumer = planConsumerReads(plan, subject);
  const bought = new Map<string, number[]>();
  for (const bid of [...winners.map((w) => w.bid), ...remaining]) {
    if (!bought.has(bid.buyerId)) bought.set(bid.buyerId, planBoughtReads(plan, consumer, bid.buyerId));
  }
  return { winners, orphaned, remaining, subject, reads: { lockKeys: hashesOf(subject.hashes).map(keys.consumerLock), plan, consumer, bought } };
}
