// The returns use cases (PROTOCOL section 7): a buyer returns a lead it bought; duplicates the
// exchange can prove from its own records are approved at once, the rest wait for the operator.
// An approval credits the buyer the sale's price and claws the affiliate's payout back.
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/events.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { Store } from '../store/store.ts';
import type { LeadRepository } from '../db/lead-repository.ts';
import { capCounters } from '../auction/caps.ts';
import type { Buyer } from '../catalog/types.ts';
import { toDollars } from '../catalog/money.ts';
import type { Clock } from '../clock/clock.ts';
import type { ReturnableSale, ReturnListQuery, ReturnRepository } from '../db/return-repository.ts';
import { Conflict, NotFound, Unprocessable } from '../errors/problems.ts';
import { newId } from '../ids/ids.ts';
import type { ReturnRequest } from './requests.ts';
import { isReturnable, lookBackFrom, purchaseDuplicateWindowDays, returnWindowClosesAt } from './rules.ts';
import type { BuyerCredit, DuplicateProof, ReturnRecord, ReturnSettings } from './types.ts';

export interface ReturnsDeps {
  catalog: Catalog;
  /** For giving back cap usage when a campaign asks for it (return_refunds_caps). */
  store: Pick<Store, 'refundCounters'>;
  leads: Pick<LeadRepository, 'salesOf'>;
  returnRepository: ReturnRepository;
  audit: AuditLog;
  clock: Clock;
  returnSettings: ReturnSettings;
  log: Logger;
}

const iso = (ms: number): string => new Date(ms).toISOString();

export class Returns {
  readonly #deps: ReturnsDeps;
  readonly #creditListeners = new Set<(credit: BuyerCredit) => void>();

  constructor(deps: ReturnsDeps) {
    this.#deps = deps;
  }

  /**
   * Called after every approved return's money is committed and the catalog reloaded, so
   * budget tracking outside Postgres can take the credit into account.
   */
  onCredit(listener: (credit: BuyerCredit) => void): () => void {
    this.#creditListeners.add(listener);
    return () => this.#creditListeners.delete(listener);
  }

  async request(buyer: Buyer, request: ReturnRequest): Promise<ReturnRecord> {
    const { returnRepository, clock, returnSettings } = this.#deps;
    // Another buyer's lead and an unknown lead look the same: nothing here is theirs.
    const sale = await returnRepository.saleOf(request.lead_id, buyer.id);
    if (!sale) throw new NotFound(`You did not buy lead ${request.lead_id}`);

    const now = clock.now();
    if (!isReturnable(sale.sold_at, now, returnSettings.windowDays)) {
      const closedAt = iso(returnWindowClosesAt(sale.sold_at, returnSettings.windowDays));
      throw new Unprocessable(`The return window of lead ${request.lead_id} closed at ${closedAt}`, [
        { path: 'lead_id', message: `sold more than ${returnSettings.windowDays} days ago` },
      ]);
    }

    const proof = request.reason === 'duplicate' ? await this.#duplicateProof(sale) : null;
    const record: ReturnRecord = {
      id: newId('rt'),
      sale_id: sale.id,
      lead_id: sale.lead_id,
      buyer_id: sale.buyer_id,
      affiliate_id: sale.affiliate_id,
      campaign_id: sale.campaign_id,
      reason: request.reason,
      detail: request.detail,
      status: proof ? 'approved' : 'pending',
      price_cents: sale.price_cents,
      payout_cents: sale.payout_cents,
      proof,
      decided_by: proof ? 'exchange' : null,
      note: null,
      created_at: now,
      decided_at: proof ? now : null,
    };
    if (!(await returnRepository.insert(record))) throw new Conflict(`Lead ${request.lead_id} was already returned`);

    this.#event(record, 'return.requested', now, { reason: record.reason, ...(record.detail ? { detail: record.detail } : {}), price: toDollars(record.price_cents) });
    if (record.status === 'approved') await this.#approved(record);
    return record;
  }

  async approve(id: string, note: string | null): Promise<ReturnRecord> {
    const record = await this.#decide(id, 'approved', note);
    await this.#approved(record);
    return record;
  }

  async deny(id: string, note: string | null): Promise<ReturnRecord> {
    const record = await this.#decide(id, 'denied', note);
    this.#event(record, 'return.denied', record.decided_at ?? this.#deps.clock.now(), { decided_by: 'operator', ...(note ? { note } : {}) });
    return record;
  }

  async get(id: string): Promise<ReturnRecord> {
    const record = await this.#deps.returnRepository.get(id);
    if (!record) throw new NotFound(`No return ${id}`);
    return record;
  }

  /** A buyer sees only its own returns; anyone else's is as unknown as a missing one. */
  async getForBuyer(buyer: Buyer, id: string): Promise<ReturnRecord> {
    const record = await this.#deps.returnRepository.get(id);
    if (!record || record.buyer_id !== buyer.id) throw new NotFound(`No return ${id}`);
    return record;
  }

  list(query: ReturnListQuery): Promise<ReturnRecord[]> {
    return this.#deps.returnRepository.list(query);
  }

  async #decide(id: string, status: 'approved' | 'denied', note: string | null): Promise<ReturnRecord> {
    const result = await this.#deps.returnRepository.decide(id, { status, at: this.#deps.clock.now(), note });
    if (result.outcome === 'missing') throw new NotFound(`No return ${id}`);
    if (result.outcome === 'already_decided') throw new Conflict(`Return ${id} was already ${result.record.status}`);
    return result.record;
  }

  /** After an approval is committed: the timeline, the in-memory balances, the listeners. */
  async #approved(record: ReturnRecord): Promise<void> {
    const at = record.decided_at ?? record.created_at;
    const capsRefunded = await this.#refundCaps(record);
    this.#event(record, 'return.approved', at, {
      decided_by: record.decided_by,
      caps_refunded: capsRefunded,
      credit: toDollars(record.price_cents),
      clawback: toDollars(record.payout_cents),
      ...(record.proof ? { proof: record.proof } : {}),
      ...(record.note ? { note: record.note } : {}),
    });
    try {
      await this.#deps.catalog.changed();
    } catch (error) {
      // The credit is committed; the in-memory balance catches up on the next reload.
      this.#deps.log.warn({ err: error, return_id: record.id }, 'catalog reload after a return credit failed');
    }
    const credit: BuyerCredit = { buyer_id: record.buyer_id, amount_cents: record.price_cents, return_id: record.id, sale_id: record.sale_id, at };
    for (const listener of this.#creditListeners) {
      try {
        listener(credit);
      } catch (error) {
        this.#deps.log.error({ err: error, return_id: record.id }, 'a return credit listener failed');
      }
    }
  }

  /**
   * A returned lead keeps counting against the campaign's caps (the sale did happen) unless the
   * campaign says otherwise; then the counters of the periods the sale fell in give it back.
   */
  async #refundCaps(record: ReturnRecord): Promise<boolean> {
    const campaign = this.#deps.catalog.campaign(record.campaign_id);
    if (!campaign?.return_refunds_caps || campaign.caps.length === 0) return false;
    try {
      const sale = (await this.#deps.leads.salesOf(record.lead_id)).find((s) => s.id === record.sale_id);
      if (!sale) return false;
      const counters = capCounters(campaign, new Date(sale.created_at).getTime());
      await this.#deps.store.refundCounters(counters.map((c) => ({ key: c.key, amount: c.measure === 'leads' ? 1 : record.price_cents })));
      return true;
    } catch (error) {
      // The money is settled; only the caps keep counting the lead, as without the option.
      this.#deps.log.warn({ err: error, return_id: record.id }, 'could not give back the cap usage of a returned lead');
      return false;
    }
  }

  /** The exchange's own records that make a duplicate claim indisputable, if any. */
  async #duplicateProof(sale: ReturnableSale): Promise<DuplicateProof | null> {
    const { returnRepository } = this.#deps;
    const purchaseDays = purchaseDuplicateWindowDays(sale.campaign_dedupe_days, sale.vertical_duplicate_days);
    if (purchaseDays > 0) {
      const earlier = await returnRepository.earlierPurchase(sale.buyer_id, {
        hashes: sale.hashes,
        excludeLeadId: sale.lead_id,
        since: lookBackFrom(sale.sold_at, purchaseDays),
        before: sale.sold_at,
      });
      if (earlier) return { rule: 'earlier_purchase', sale_id: earlier.sale_id, lead_id: earlier.lead_id, at: iso(earlier.at), window_days: purchaseDays };
    }
    const affiliateDays = sale.vertical_duplicate_days;
    if (affiliateDays > 0) {
      const earlier = await returnRepository.earlierLeadFromAffiliate(sale.affiliate_id, sale.vertical, {
        hashes: sale.hashes,
        excludeLeadId: sale.lead_id,
        since: lookBackFrom(sale.lead_received_at, affiliateDays),
        before: sale.lead_received_at,
      });
      if (earlier) return { rule: 'earlier_lead_from_affiliate', lead_id: earlier.lead_id, at: iso(earlier.at), window_days: affiliateDays };
    }
    return null;
  }

  #event(record: ReturnRecord, type: 'return.requested' | 'return.approved' | 'return.denied', at: number, detail: Record<string, unknown>): void {
    this.#deps.audit.event({
      lead_id: record.lead_id,
      at,
      type,
      campaign_id: record.campaign_id,
      detail: { return_id: record.id, sale_id: record.sale_id, buyer_id: record.buyer_id, ...detail },
    });
  }
}
