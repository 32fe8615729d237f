// Leads and their sales: the records money moves on. A lead and its sales commit together.
// Contact and consent are personal data: sealed here on the way in, opened on the way out, so
// nothing above this file handles ciphertext and nothing below it sees plaintext.
import type { Insertable, Kysely, Selectable } from 'kysely';
import type { PiiCipher } from '../pii/cipher.ts';
import type { DB, EventsTable, LeadsTable, NewLead, NewSale, SalesTable } from './schema.ts';
import { saleEntries } from '../ledger/entries.ts';
import { ledgerRow } from './ledger-repository.ts';

export type StoredLead = Omit<Selectable<LeadsTable>, 'contact' | 'consent' | 'pii_key_id'> & {
  contact: Record<string, unknown>;
  consent: Record<string, unknown>;
};
export type StoredSale = Selectable<SalesTable>;
export type StoredEvent = Selectable<EventsTable>;

export class LeadRepository {
  readonly #db: Kysely<DB>;
  readonly #pii: PiiCipher;

  constructor(db: Kysely<DB>, pii: PiiCipher) {
    this.#db = db;
    this.#pii = pii;
  }

  /**
   * Durably records a lead with its sales and their ledger entries (section 5.8) in ONE
   * statement: a single statement is atomic by itself, so this needs no BEGIN/COMMIT round trips.
   */
  async recordLead(lead: NewLead, sales: NewSale[]): Promise<void> {
    const sealed = this.#seal(lead);
    if (sales.length === 0) {
      await this.#db.insertInto('leads').values(sealed).execute();
      return;
    }
    // The ledger records what each sale owes and earns (a return later undoes exactly that).
    const entries = sales.flatMap((sale) => saleEntries(sale).map((entry) => ledgerRow(entry, sale.created_at ?? new Date())));
    const withLead = this.#db.with('recorded_lead', (db) => db.insertInto('leads').values(sealed).returning('id'));
    if (entries.length === 0) {
      await withLead.insertInto('sales').values(sales).execute();
      return;
    }
    await withLead
      .with('recorded_sales', (db) => db.insertInto('sales').values(sales).returning('id'))
      .insertInto('ledger')
      .values(entries)
      .execute();
  }

  async findByIdempotencyKey(affiliateId: string, key: string): Promise<StoredLead | undefined> {
    const row = await this.#db
      .selectFrom('leads')
      .selectAll()
      .where('affiliate_id', '=', affiliateId)
      .where('idempotency_key', '=', key)
      .executeTakeFirst();
    return row && this.#open(row);
  }

  async getLead(id: string): Promise<StoredLead | undefined> {
    const row = await this.#db.selectFrom('leads').selectAll().where('id', '=', id).executeTakeFirst();
    return row && this.#open(row);
  }

  async findByPing(pingId: string): Promise<StoredLead | undefined> {
    const row = await this.#db.selectFrom('leads').selectAll().where('ping_id', '=', pingId).executeTakeFirst();
    return row && this.#open(row);
  }

  /**
   * Seals rows written before contact and consent were encrypted (migrations/0003), a batch at a
   * time, until none is left. Safe to run on several nodes at once. Returns how many it sealed.
   */
  async sealLegacyRows(batchSize = 500): Promise<number> {
    let sealed = 0;
    for (;;) {
      const rows = await this.#db
        .selectFrom('leads')
        .select(['id', 'contact', 'consent'])
        .where('pii_key_id', 'is', null)
        .orderBy('id')
        .limit(batchSize)
        .execute();
      if (rows.length === 0) return sealed;
      for (const row of rows) {
        const result = await this.#db
          .updateTable('leads')
          .set({
            contact: this.#pii.seal(row.contact, sealContext(row.id, 'contact')),
            consent: this.#pii.seal(row.consent, sealContext(row.id, 'consent')),
            pii_key_id: this.#pii.activeKeyId,
          })
          .where('id', '=', row.id)
          .where('pii_key_id', 'is', null)
          .executeTakeFirst();
        sealed += Number(result.numUpdatedRows);
      }
    }
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

  /** A campaign's activity since `since`: for the operator's status view. */
  async campaignDay(campaignId: string, since: Date): Promise<{ pings: number; bids: number; sales: number; spend_cents: number }> {
    const [bids, sales] = await Promise.all([
      this.#db
        .selectFrom('bids')
        .select((eb) => [eb.fn.countAll<number>().as('pings'), eb.fn.count<number>('amount_cents').as('bids')])
        .where('campaign_id', '=', campaignId)
        .where('created_at', '>=', since)
        .executeTakeFirstOrThrow(),
      this.#db
        .selectFrom('sales')
        .select((eb) => [eb.fn.countAll<number>().as('sales'), eb.fn.coalesce(eb.fn.sum<number>('price_cents'), eb.lit(0)).as('spend')])
        .where('campaign_id', '=', campaignId)
        .where('created_at', '>=', since)
        .executeTakeFirstOrThrow(),
    ]);
    return { pings: Number(bids.pings), bids: Number(bids.bids), sales: Number(sales.sales), spend_cents: Number(sales.spend) };
  }

  async countSales(): Promise<number> {
    const row = await this.#db.selectFrom('sales').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async ping(): Promise<void> {
    await this.#db.selectFrom('verticals').select('key').limit(1).execute();
  }

  #seal(lead: NewLead): Insertable<LeadsTable> {
    return {
      ...lead,
      contact: this.#pii.seal(lead.contact, sealContext(lead.id, 'contact')),
      consent: this.#pii.seal(lead.consent, sealContext(lead.id, 'consent')),
      pii_key_id: this.#pii.activeKeyId,
    };
  }

  #open(row: Selectable<LeadsTable>): StoredLead {
    const { pii_key_id: keyId, contact, consent, ...rest } = row;
    const open = (text: string, column: 'contact' | 'consent'): Record<string, unknown> =>
      JSON.parse(keyId === null ? text : this.#pii.open(text, keyId, sealContext(row.id, column))) as Record<string, unknown>;
    return { ...rest, contact: open(contact, 'contact'), consent: open(consent, 'consent') };
  }
}

/** Binds a sealed value to its row and column: copied anywhere else, it no longer opens. */
function sealContext(leadId: string, column: 'contact' | 'consent'): string {
  return `leads.${column}:${leadId}`;
}
