// Returns and the records that decide them. Approving a return is one transaction: its status,
// its ledger rows and the buyer's balance change together or not at all.
import type { Kysely, Selectable, Transaction } from 'kysely';
import { netFor, returnEntries } from '../ledger/entries.ts';
import type { ContactHashes } from '../lead/contact.ts';
import type { Decider, DuplicateProof, ReturnReason, ReturnRecord, ReturnStatus } from '../returns/types.ts';
import { ledgerRow } from './ledger-repository.ts';
import type { DB, ReturnsTable } from './schema.ts';

/** A sale as a return needs it: its money, its consumer and the windows that protect its buyer. */
export interface ReturnableSale {
  id: string;
  lead_id: string;
  buyer_id: string;
  affiliate_id: string;
  campaign_id: string;
  vertical: string;
  price_cents: number;
  payout_cents: number;
  hashes: ContactHashes;
  /** Epoch milliseconds. */
  sold_at: number;
  lead_received_at: number;
  campaign_dedupe_days: number;
  vertical_duplicate_days: number;
}

/** An earlier record of the same consumer, found inside [since, before). */
export interface EarlierLead {
  lead_id: string;
  /** Epoch milliseconds. */
  at: number;
}

export interface EarlierPurchase extends EarlierLead {
  sale_id: string;
}

export interface ConsumerLookBack {
  hashes: ContactHashes;
  excludeLeadId: string;
  /** Epoch ms, inclusive. */
  since: number;
  /** Epoch ms, exclusive. */
  before: number;
}

export type Decision = { status: 'approved' | 'denied'; at: number; note: string | null };

export type DecideOutcome =
  | { outcome: 'decided'; record: ReturnRecord }
  | { outcome: 'already_decided'; record: ReturnRecord }
  | { outcome: 'missing' };

export interface ReturnListQuery {
  status: ReturnStatus | null;
  buyerId: string | null;
  limit: number;
  after: string | null;
}

const ms = (value: Date | string): number => new Date(value).getTime();

function fromRow(row: Selectable<ReturnsTable>): ReturnRecord {
  return {
    id: row.id,
    sale_id: row.sale_id,
    lead_id: row.lead_id,
    buyer_id: row.buyer_id,
    affiliate_id: row.affiliate_id,
    campaign_id: row.campaign_id,
    reason: row.reason as ReturnReason,
    detail: row.detail,
    status: row.status as ReturnStatus,
    price_cents: row.price_cents,
    payout_cents: row.payout_cents,
    proof: (row.proof as DuplicateProof | null) ?? null,
    decided_by: row.decided_by as Decider | null,
    note: row.note,
    created_at: ms(row.created_at),
    decided_at: row.decided_at === null ? null : ms(row.decided_at),
  };
}

export class ReturnRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  /** The buyer's sale of this lead, or undefined when the buyer did not buy it. */
  async saleOf(leadId: string, buyerId: string): Promise<ReturnableSale | undefined> {
    const row = await this.#db
      .selectFrom('sales as s')
      .innerJoin('leads as l', 'l.id', 's.lead_id')
      .innerJoin('campaigns as c', 'c.id', 's.campaign_id')
      .leftJoin('verticals as v', 'v.key', 's.vertical')
      .select([
        's.id', 's.lead_id', 's.buyer_id', 's.affiliate_id', 's.campaign_id', 's.vertical', 's.price_cents', 's.payout_cents',
        's.email_sha256', 's.phone_sha256', 's.created_at', 'l.created_at as lead_created_at', 'c.dedupe_days', 'v.duplicate_days',
      ])
      .where('s.lead_id', '=', leadId)
      .where('s.buyer_id', '=', buyerId)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      id: row.id,
      lead_id: row.lead_id,
      buyer_id: row.buyer_id,
      affiliate_id: row.affiliate_id,
      campaign_id: row.campaign_id,
      vertical: row.vertical,
      price_cents: row.price_cents,
      payout_cents: row.payout_cents,
      hashes: {
        ...(row.email_sha256 !== null ? { email_sha256: row.email_sha256 } : {}),
        ...(row.phone_sha256 !== null ? { phone_sha256: row.phone_sha256 } : {}),
      },
      sold_at: ms(row.created_at),
      lead_received_at: ms(row.lead_created_at),
      campaign_dedupe_days: row.dedupe_days,
      vertical_duplicate_days: row.duplicate_days ?? 0,
    };
  }

  /**
   * The buyer's latest earlier purchase of the consumer (either hash) inside the window. A
   * purchase the buyer already returned (approved) is money given back, so it proves nothing.
   */
  async earlierPurchase(buyerId: string, lookBack: ConsumerLookBack): Promise<EarlierPurchase | undefined> {
    const { email_sha256: email, phone_sha256: phone } = lookBack.hashes;
    if (email === undefined && phone === undefined) return undefined;
    const row = await this.#db
      .selectFrom('sales as e')
      .select(['e.id', 'e.lead_id', 'e.created_at'])
      .where('e.buyer_id', '=', buyerId)
      .where((eb) => eb.or([...(email !== undefined ? [eb('e.email_sha256', '=', email)] : []), ...(phone !== undefined ? [eb('e.phone_sha256', '=', phone)] : [])]))
      .where('e.created_at', '>=', new Date(lookBack.since))
      .where('e.created_at', '<', new Date(lookBack.before))
      .where('e.lead_id', '<>', lookBack.excludeLeadId)
      .where((eb) =>
        eb.not(eb.exists(eb.selectFrom('returns as r').select('r.id').whereRef('r.sale_id', '=', 'e.id').where('r.status', '=', 'approved'))),
      )
      .orderBy('e.created_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && { lead_id: row.lead_id, sale_id: row.id, at: ms(row.created_at) };
  }

  /** The affiliate's latest earlier lead of the consumer (either hash) in the vertical, whatever became of it. */
  async earlierLeadFromAffiliate(affiliateId: string, vertical: string, lookBack: ConsumerLookBack): Promise<EarlierLead | undefined> {
    const { email_sha256: email, phone_sha256: phone } = lookBack.hashes;
    if (email === undefined && phone === undefined) return undefined;
    const row = await this.#db
      .selectFrom('leads')
      .select(['id', 'created_at'])
      .where('affiliate_id', '=', affiliateId)
      .where('vertical', '=', vertical)
      .where((eb) => eb.or([...(email !== undefined ? [eb('email_sha256', '=', email)] : []), ...(phone !== undefined ? [eb('phone_sha256', '=', phone)] : [])]))
      .where('created_at', '>=', new Date(lookBack.since))
      .where('created_at', '<', new Date(lookBack.before))
      .where('id', '<>', lookBack.excludeLeadId)
      .orderBy('created_at', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && { lead_id: row.id, at: ms(row.created_at) };
  }

  /**
   * Records a new return; an approved one moves its money in the same transaction. Returns
   * false when the sale already has a return.
   */
  async insert(record: ReturnRecord): Promise<boolean> {
    return this.#db.transaction().execute(async (trx) => {
      const inserted = await trx
        .insertInto('returns')
        .values({
          ...record,
          proof: record.proof === null ? null : JSON.stringify(record.proof),
          created_at: new Date(record.created_at),
          decided_at: record.decided_at === null ? null : new Date(record.decided_at),
        })
        .onConflict((oc) => oc.column('sale_id').doNothing())
        .executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0) !== 1) return false;
      if (record.status === 'approved') await moveMoney(trx, record);
      return true;
    });
  }

  /**
   * Decides a pending return exactly once: the row is locked, so of two concurrent decisions
   * the second sees the first and changes nothing.
   */
  async decide(id: string, decision: Decision): Promise<DecideOutcome> {
    return this.#db.transaction().execute(async (trx) => {
      const current = await trx.selectFrom('returns').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
      if (!current) return { outcome: 'missing' };
      if (current.status !== 'pending') return { outcome: 'already_decided', record: fromRow(current) };
      const updated = await trx
        .updateTable('returns')
        .set({ status: decision.status, decided_by: 'operator', note: decision.note, decided_at: new Date(decision.at) })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirstOrThrow();
      const record = fromRow(updated);
      if (record.status === 'approved') await moveMoney(trx, record);
      return { outcome: 'decided', record };
    });
  }

  async get(id: string): Promise<ReturnRecord | undefined> {
    const row = await this.#db.selectFrom('returns').selectAll().where('id', '=', id).executeTakeFirst();
    return row && fromRow(row);
  }

  async list(query: ReturnListQuery): Promise<ReturnRecord[]> {
    let select = this.#db.selectFrom('returns').selectAll().orderBy('id').limit(query.limit);
    if (query.status !== null) select = select.where('status', '=', query.status);
    if (query.buyerId !== null) select = select.where('buyer_id', '=', query.buyerId);
    if (query.after !== null) select = select.where('id', '>', query.after);
    return (await select.execute()).map(fromRow);
  }
}

/** The approved return's ledger rows and the buyer's balance, inside the caller's transaction. */
async function moveMoney(trx: Transaction<DB>, record: ReturnRecord): Promise<void> {
  const entries = returnEntries({
    id: record.sale_id,
    return_id: record.id,
    buyer_id: record.buyer_id,
    affiliate_id: record.affiliate_id,
    price_cents: record.price_cents,
    payout_cents: record.payout_cents,
  });
  const at = new Date(record.decided_at ?? record.created_at);
  if (entries.length > 0) await trx.insertInto('ledger').values(entries.map((entry) => ledgerRow(entry, at))).execute();
  const credit = netFor(entries, 'buyer', record.buyer_id);
  // Only the balance moves, never the budget epoch: what the buyer spent this epoch stays spent,
  // and the credit is new room on top. A buyer without a balance is not budgeted: nothing to move.
  if (credit !== 0) {
    await trx
      .updateTable('buyers')
      .set((eb) => ({ balance_cents: eb('balance_cents', '+', credit), updated_at: at }))
      .where('id', '=', record.buyer_id)
      .where('balance_cents', 'is not', null)
      .execute();
  }
}
