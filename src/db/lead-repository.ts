// Leads and their sales: the records money moves on. A lead and its sales commit together.
// Contact and consent are personal data: sealed here on the way in, opened on the way out, so
// nothing above this file handles ciphertext and nothing below it sees plaintext.
import { sql, type Insertable, type Kysely, type Selectable } from 'kysely';
import type { PiiCipher } from '../pii/cipher.ts';
import type { DB, EventsTable, LeadsTable, NewLead, NewLedgerRow, NewSale, SalesTable } from './schema.ts';
import { GroupCommit } from './group-commit.ts';
import { jsonText } from './json-text.ts';
import { preparedAs } from './prepared-statements.ts';
import { saleEntries } from '../ledger/entries.ts';
import { ledgerRow } from './ledger-repository.ts';

export type StoredLead = Omit<Selectable<LeadsTable>, 'contact' | 'consent' | 'pii_key_id'> & {
  contact: Record<string, unknown>;
  consent: Record<string, unknown>;
};
export type StoredSale = Selectable<SalesTable>;
export type StoredEvent = Selectable<EventsTable>;

interface RecordedLead {
  lead: Insertable<LeadsTable>;
  sales: NewSale[];
}

export class LeadRepository {
  readonly #db: Kysely<DB>;
  readonly #pii: PiiCipher;

  readonly #group: GroupCommit<RecordedLead>;

  constructor(db: Kysely<DB>, pii: PiiCipher, options: { maxGroup?: number } = {}) {
    this.#db = db;
    this.#pii = pii;
    this.#group = new GroupCommit((group) => this.#insert(group), { maxGroup: options.maxGroup ?? 200 });
  }

  /**
   * Durably records a lead with its sales and their ledger entries (section 5.8). Leads recorded
   * at the same moment share one statement (group commit, src/db/group-commit.ts); a statement is
   * atomic by itself, so each lead lands whole or not at all, with no BEGIN/COMMIT round trips.
   */
  async recordLead(lead: NewLead, sales: NewSale[]): Promise<void> {
    await this.#group.add({ lead: this.#seal(lead), sales });
  }

  async #insert(group: RecordedLead[]): Promise<void> {
    const leads: string[] = [];
    const sales: NewSale[] = [];
    const entries: NewLedgerRow[] = [];
    for (const { lead, sales: sold } of group) {
      leads.push(leadJson(lead));
      for (const sale of sold) {
        sales.push(sale);
        // The ledger records what each sale owes and earns (a return later undoes exactly that).
        for (const entry of saleEntries(sale)) entries.push(ledgerRow(entry, sale.created_at ?? new Date()));
      }
    }
    // Each kind of row travels as one JSON parameter that Postgres unpacks: one statement and a
    // handful of parameters whatever the group size. Sales see their leads (a foreign key checked
    // at the end of the statement), the ledger its sales.
    await sql`${sql.raw(preparedAs('leadex_record_leads'))}
      with recorded_leads as (
        insert into leads (id, affiliate_id, vertical, ping_id, data, contact, consent, pii_key_id, source, email_sha256, phone_sha256,
                           status, mode, reasons, price_cents, payout_cents, min_payout_cents, idempotency_key, request_hash, response, created_at)
        select id, affiliate_id, vertical, ping_id, data, contact, consent, pii_key_id, source, email_sha256, phone_sha256,
               status, mode, reasons, price_cents, payout_cents, min_payout_cents, idempotency_key, request_hash, response, coalesce(created_at, now())
        from jsonb_to_recordset(${jsonText(`[${leads.join(',')}]`)}::jsonb) as x(
          id text, affiliate_id text, vertical text, ping_id text, data jsonb, contact text, consent text, pii_key_id text, source jsonb,
          email_sha256 text, phone_sha256 text, status text, mode text, reasons jsonb, price_cents bigint, payout_cents bigint,
          min_payout_cents bigint, idempotency_key text, request_hash text, response jsonb, created_at timestamptz)
        returning id
      ), recorded_sales as (
        insert into sales (id, lead_id, campaign_id, buyer_id, affiliate_id, vertical, mode, price_cents, payout_cents, bid_id,
                           buyer_lead_id, redirect_url, email_sha256, phone_sha256, created_at)
        select id, lead_id, campaign_id, buyer_id, affiliate_id, vertical, mode, price_cents, payout_cents, bid_id,
               buyer_lead_id, redirect_url, email_sha256, phone_sha256, coalesce(created_at, now())
        from jsonb_to_recordset(${jsonText(JSON.stringify(sales))}::jsonb) as x(
          id text, lead_id text, campaign_id text, buyer_id text, affiliate_id text, vertical text, mode text, price_cents bigint,
          payout_cents bigint, bid_id text, buyer_lead_id text, redirect_url text, email_sha256 text, phone_sha256 text, created_at timestamptz)
        returning id
      )
      insert into ledger (at, account_type, account_id, amount_cents, kind, sale_id, return_id)
      select at, account_type, account_id, amount_cents, kind, sale_id, return_id
      from jsonb_to_recordset(${jsonText(JSON.stringify(entries))}::jsonb) as x(
        at timestamptz, account_type text, account_id text, amount_cents bigint, kind text, sale_id text, return_id text)`.execute(this.#db);
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

  /** A campaign's activity since `since` (a quarter-hour boundary): for the operator's status view. */
  async campaignDay(campaignId: string, since: Date): Promise<{ pings: number; bids: number; sales: number; spend_cents: number }> {
    const [asked, sales] = await Promise.all([
      this.#db
        .selectFrom('campaign_activity')
        .select((eb) => [eb.fn.coalesce(eb.fn.sum<number>('pings'), eb.lit(0)).as('pings'), eb.fn.coalesce(eb.fn.sum<number>('bids'), eb.lit(0)).as('bids')])
        .where('campaign_id', '=', campaignId)
        .where('bucket', '>=', since)
        .executeTakeFirstOrThrow(),
      this.#db
        .selectFrom('sales')
        .select((eb) => [eb.fn.countAll<number>().as('sales'), eb.fn.coalesce(eb.fn.sum<number>('price_cents'), eb.lit(0)).as('spend')])
        .where('campaign_id', '=', campaignId)
        .where('created_at', '>=', since)
        .executeTakeFirstOrThrow(),
    ]);
    return { pings: Number(asked.pings), bids: Number(asked.bids), sales: Number(sales.sales), spend_cents: Number(sales.spend) };
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

/**
 * A sealed lead as one JSON object; its JSON columns are JSON text already and go in as they are.
 * Written out field by field: a rest copy of the row and one stringify over it cost half again as
 * much, for every lead.
 */
function leadJson(lead: Insertable<LeadsTable>): string {
  return (
    `{"id":${json(lead.id)},"affiliate_id":${json(lead.affiliate_id)},"vertical":${json(lead.vertical)},"ping_id":${json(lead.ping_id)},` +
    `"contact":${json(lead.contact)},"consent":${json(lead.consent)},"pii_key_id":${json(lead.pii_key_id)},` +
    `"email_sha256":${json(lead.email_sha256)},"phone_sha256":${json(lead.phone_sha256)},"status":${json(lead.status)},"mode":${json(lead.mode)},` +
    `"price_cents":${json(lead.price_cents)},"payout_cents":${json(lead.payout_cents)},"min_payout_cents":${json(lead.min_payout_cents)},` +
    `"idempotency_key":${json(lead.idempotency_key)},"request_hash":${json(lead.request_hash)},"created_at":${json(lead.created_at)},` +
    `"data":${lead.data},"source":${lead.source},"reasons":${lead.reasons},"response":${lead.response}}`
  );
}

/** A value as JSON; absent is null, as jsonb_to_recordset reads a missing key. */
function json(value: unknown): string {
  return value === undefined ? 'null' : JSON.stringify(value);
}
