// The exchange's use cases: direct post, two-phase ping and post. Orchestrates the pure auction
// rules (src/auction) over the ports (buyers, store, database, audit).
import type { Affiliate, SaleMode } from '../catalog/types.ts';
import type { DirectLead, PingRequest, PostRequest } from '../lead/requests.ts';
import type { NewLead, NewSale } from '../db/schema.ts';
import { payoutsFor, totalPayout } from '../auction/settlement.ts';
import { toCents, toDollars } from '../catalog/money.ts';
import { canonicalJson } from '../lead/canonical-json.ts';
import { qualityReasons } from '../lead/quality.ts';
import { Conflict, Gone, NotFound, ServiceUnavailable, Unprocessable } from '../errors/problems.ts';
import { newId } from '../ids/ids.ts';
import { collectBids } from './bidding.ts';
import { fromHeldBid, HOLD_GRACE_MS, holdKey, toHeldBid, type HoldPayload } from './holds.ts';
import { newSaleState, postRounds, releaseReservations, reserveNextRound, type FullLead, type SaleState } from './selling.ts';
import type { AuctionSubject, ExchangeDeps, LeadAnswer, PingAnswer, ReservedWinner } from './types.ts';

export interface DirectPostOptions {
  idempotencyKey: string | null;
  /** Canonical hash of the request body, to refuse a reused key with another body. */
  requestHash: string;
}

export class Exchange {
  readonly #deps: ExchangeDeps;

  constructor(deps: ExchangeDeps) {
    this.#deps = deps;
  }

  // --- 3.1 direct post

  async directPost(affiliate: Affiliate, lead: DirectLead, options: DirectPostOptions): Promise<LeadAnswer> {
    if (!options.idempotencyKey) return this.#directPost(affiliate, lead, null, options.requestHash);
    const key = options.idempotencyKey;
    return this.#oncePerKey(affiliate, key, options.requestHash, () => this.#directPost(affiliate, lead, key, options.requestHash));
  }

  async #directPost(affiliate: Affiliate, lead: DirectLead, idempotencyKey: string | null, requestHash: string): Promise<LeadAnswer> {
    const { clock, audit } = this.#deps;
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
    audit.event({ lead_id: subject.leadId, at: clock.now(), type: 'lead.received', campaign_id: null, detail: { via: 'direct', affiliate_id: affiliate.id } });
    const full: FullLead = { contact: lead.contact, consent: lead.consent, source: lead.source };
    const record = { idempotencyKey, requestHash };

    const reasons = qualityReasons(lead);
    if (reasons.length > 0) return this.#settle(newSaleState(subject, []), full, record, reasons);

    const ranked = await collectBids(this.#deps, subject);
    const state = newSaleState(subject, ranked);
    await postRounds(this.#deps, state, full, null, clock.now() + this.#deps.settings.postDeadlineMs);
    return this.#settle(state, full, record, []);
  }

  /**
   * One answer per Idempotency-Key: a concurrent retry waits for the first attempt and gets its
   * answer; a retry after it gets the stored answer; the same key with another body is 422.
   */
  async #oncePerKey(affiliate: Affiliate, key: string, requestHash: string, run: () => Promise<LeadAnswer>): Promise<LeadAnswer> {
    const { store, leads, settings, clock } = this.#deps;
    const lockKey = `idem:${affiliate.id}:${key}`;
    const ttlMs = settings.tmaxMs + settings.postDeadlineMs + 10_000;
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
    const { clock, audit, store, settings } = this.#deps;
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

    const ranked = await collectBids(this.#deps, subject);
    const state = newSaleState(subject, ranked);
    const expiresAt = clock.now() + settings.holdTtlMs;
    const round = await reserveNextRound(this.#deps, state, expiresAt);
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
    if (!round) {
      audit.ping({ ...pingRecord, status: 'no_bid', mode: null, payout_cents: null, expires_at: null });
      audit.event({ lead_id: subject.leadId, at: clock.now(), type: 'lead.unsold', campaign_id: null, detail: { via: 'ping', reason: state.stopReason ?? 'no_bid' } });
      return { ping_id: subject.pingId, status: 'no_bid' };
    }

    const payoutCents = totalPayout(affiliate.payout, round.winners.map((w) => w.bid.amount));
    const hold: HoldPayload = {
      lead_id: subject.leadId,
      ping_id: subject.pingId,
      affiliate_id: affiliate.id,
      vertical: subject.vertical.key,
      data: subject.data,
      hashes: subject.hashes,
      min_payout_cents: subject.minPayoutCents,
      expires_at: expiresAt,
      mode: round.mode,
      payout_cents: payoutCents,
      winners: round.winners.map((w) => ({ ...toHeldBid(w.bid), reservation_id: w.reservationId })),
      remaining: state.remaining.map(toHeldBid),
    };
    try {
      await store.putHold(holdKey(affiliate.id, subject.pingId), { payload: JSON.stringify(hold), reservationIds: round.winners.map((w) => w.reservationId) }, settings.holdTtlMs + HOLD_GRACE_MS);
    } catch (error) {
      await releaseReservations(this.#deps, subject.leadId, round.winners, 'hold_not_stored').catch(() => {});
      throw error;
    }
    // The reservations now live exactly as long as the hold.
    audit.ping({ ...pingRecord, status: 'bid', mode: round.mode, payout_cents: payoutCents, expires_at: expiresAt });
    audit.event({ lead_id: subject.leadId, at: clock.now(), type: 'hold.created', campaign_id: null, detail: { expires_at: new Date(expiresAt).toISOString(), payout: toDollars(payoutCents), mode: round.mode } });
    return { ping_id: subject.pingId, status: 'bid', payout: toDollars(payoutCents), mode: round.mode, expires_at: new Date(expiresAt).toISOString() };
  }

  // --- 3.2 two-phase: post

  async post(affiliate: Affiliate, request: PostRequest): Promise<LeadAnswer> {
    const { clock, audit, store, catalog, leads, settings } = this.#deps;
    const claimedAt = clock.now();
    const claim = await store.claimHold(holdKey(affiliate.id, request.ping_id), claimedAt + settings.postDeadlineMs + 30_000);
    if (claim.state === 'missing') {
      if (await leads.pingExists(request.ping_id, affiliate.id)) throw new Gone(`Ping ${request.ping_id} has expired`);
      throw new NotFound(`No ping ${request.ping_id}`);
    }
    if (claim.state === 'already_claimed') throw new Conflict(`Ping ${request.ping_id} was already posted`);

    const hold = JSON.parse(claim.hold.payload) as HoldPayload;
    const winners: ReservedWinner[] = [];
    const orphaned: string[] = [];
    for (const held of hold.winners) {
      const bid = fromHeldBid(catalog, held);
      if (bid) winners.push({ bid, reservationId: held.reservation_id });
      else orphaned.push(held.reservation_id);
    }
    const giveBack = async (why: string) => {
      await store.release([...orphaned, ...winners.map((w) => w.reservationId)]);
      for (const w of winners) {
        audit.event({ lead_id: hold.lead_id, at: clock.now(), type: 'reservation.released', campaign_id: w.bid.campaignId, detail: { reservation_id: w.reservationId, why } });
      }
    };

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
    const vertical = catalog.vertical(hold.vertical);
    if (!vertical) {
      await giveBack('vertical_removed');
      throw new Gone(`Vertical ${hold.vertical} no longer exists`);
    }
    audit.event({ lead_id: hold.lead_id, at: claimedAt, type: 'hold.claimed', campaign_id: null, detail: { ping_id: hold.ping_id } });

    const subject: AuctionSubject = {
      leadId: hold.lead_id,
      pingId: hold.ping_id,
      affiliateId: affiliate.id,
      payout: affiliate.payout,
      vertical,
      data: hold.data,
      hashes: { ...hold.hashes, ...request.hashes },
      minPayoutCents: hold.min_payout_cents,
    };
    const full: FullLead = { contact: request.contact, consent: request.consent, source: request.source };
    const record = { idempotencyKey: null, requestHash: null };
    const reasons = qualityReasons(request);
    if (reasons.length > 0) {
      await giveBack('lead_rejected');
      return this.#settle(newSaleState(subject, []), full, record, reasons);
    }

    const remaining = hold.remaining.flatMap((held) => fromHeldBid(catalog, held) ?? []);
    const state = newSaleState(subject, remaining);
    await store.release(orphaned);
    const firstRound = winners.length > 0 ? { mode: hold.mode, winners } : null;
    if (firstRound) state.mode = hold.mode;
    await postRounds(this.#deps, state, full, firstRound, clock.now() + settings.postDeadlineMs);
    return this.#settle(state, full, record, []);
  }

  // --- 5.7 / 5.8 settle and record

  async #settle(
    state: SaleState,
    full: FullLead,
    record: { idempotencyKey: string | null; requestHash: string | null },
    rejectReasons: string[],
  ): Promise<LeadAnswer> {
    const { clock, audit, store, leads } = this.#deps;
    const { subject, sold } = state;
    const prices = sold.map((s) => s.bid.amount);
    const payouts = payoutsFor(subject.payout, prices);
    const mode: SaleMode | null = sold.length > 0 ? state.mode : null;
    const status = rejectReasons.length > 0 ? 'rejected' : sold.length > 0 ? 'sold' : 'unsold';
    const reasons = rejectReasons.length > 0 ? rejectReasons : status === 'unsold' && state.stopReason ? [state.stopReason] : [];
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

    try {
      await leads.recordLead(lead, sales);
    } catch (error) {
      // Not recorded means not sold: give the caps back and tell the affiliate to retry.
      await releaseReservations(this.#deps, subject.leadId, sold.map((s) => ({ bid: s.bid, reservationId: s.reservationId })), 'not_recorded').catch(() => {});
      throw new ServiceUnavailable('The lead could not be recorded; nothing was sold', 1, error);
    }
    if (sold.length > 0) {
      await commitWithRetry(() => store.commit(sold.map((s) => s.reservationId))).catch((error: unknown) => {
        // The sale stands (it is recorded); only the cap counters may now undercount it.
        this.#deps.log.error({ err: error, lead_id: subject.leadId }, 'could not commit cap reservations of a recorded sale');
      });
    }

    for (let i = 0; i < sold.length; i++) {
      const sale = sold[i]!;
      audit.event({
        lead_id: subject.leadId,
        at: now,
        type: 'sale.recorded',
        campaign_id: sale.bid.campaignId,
        detail: { sale_id: sale.saleId, buyer_id: sale.bid.buyerId, price: toDollars(sale.bid.amount), payout: toDollars(payouts[i]!) },
      });
    }
    const type = status === 'sold' ? 'lead.sold' : status === 'rejected' ? 'lead.rejected' : 'lead.unsold';
    audit.event({ lead_id: subject.leadId, at: now, type, campaign_id: null, detail: { mode, payout: answer.payout, buyers: sold.length, ...(reasons.length > 0 ? { reasons } : {}) } });
    return answer;
  }
}

/** The sale is recorded; a lost commit would let the sweeper give its caps back, so insist a little. */
async function commitWithRetry(commit: () => Promise<void>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await commit();
    } catch (error) {
      if (attempt >= 3) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
    }
  }
}
