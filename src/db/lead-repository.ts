// Leads and their sales: the records money moves on. A lead and its sales commit together.
import type { Kysely, Selectable } from 'kysely';
import type { DB, EventsTable, LeadsTable, NewLead, NewSale, SalesTable } from './schema.ts';

export type StoredLead = Selectable<LeadsTable>;
export type StoredSale = Selectable<SalesTable>;
export type StoredEvent = Selectable<EventsTable>;

export class LeadRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  /** Durably records a lead with its sales in one transaction (section 5.8). */
  async recordLead(lead: NewLead, sales: NewSale[]): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      await trx.insertInto('leads').values(lead).execute();
      if (sales.length > 0) await trx.insertInto('sales').values(sales).execute();
    });
  }

  async findByIdempotencyKey(affiliateId: string, key: string): Promise<StoredLead | undefined> {
    return this.#db
      .selectFrom('leads')
      .selectAll()
      .where('affiliate_id', '=', affiliateId)
      .where('idempotency_key', '=', key)
      .executeTakeFirst();
  }

  async getLead(id: string): Promise<StoredLead | undefined> {
    return this.#db.selectFrom('leads').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async findByPing(pingId: string): Promise<StoredLead | undefined> {
    return this.#db.selectFrom('leads').selectAll().where('ping_id', '=', pingId).executeTakeFirst();
  }

  async salesOf(leadId: string): Promise<StoredSale[]> {
    return this.#db.selectFrom('sales').selectAll().where('lead_id', '=', leadId).orderBy('created_at').orderBy('id').execute();
  }

  async timelineOf(leadId: string): Promise<StoredEvent[]> {
    return this.#db.selectFrom('events').selectAll().where('lead_id', '=', leadId).orderBy('id').execute();
  }

  /** Whether a two-phase ping was ever made by this affiliate (its hold may be long gone). */
  async pingExists(pingId: string, affiliateId: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('pings')
      .select('id')
      .where('id', '=', pingId)
      .where('affiliate_id', '=', affiliateId)
      .executeTakeFirst();
    return row !== undefined;
  }

  async countSales(): Promise<number> {
    const row = await this.#db.selectFrom('sales').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async ping(): Promise<void> {
    await this.#db.selectFrom('verticals').select('key').limit(1).execute();
  }
}
