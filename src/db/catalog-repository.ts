// Reads and writes the operator-managed configuration: verticals, affiliates, buyers, campaigns.
import { sql, type Insertable, type Kysely, type Selectable, type Updateable } from 'kysely';
import type {
  Affiliate, AffiliatePayout, BreakerSettings, Buyer, Campaign, CampaignStatus, CampaignWithSecret, Cap, EntityStatus,
  Filter, Pricing, SaleMode, Schedule, Vertical, VerticalField,
} from '../catalog/types.ts';
import { toCents, toDollars } from '../catalog/money.ts';
import type { CampaignsTable, DB } from './schema.ts';

export interface CatalogRows {
  verticals: Vertical[];
  affiliates: Array<Affiliate & { api_key_hash: string }>;
  buyers: Array<Buyer & { api_key_hash: string }>;
  campaigns: CampaignWithSecret[];
}

type Row<T extends keyof DB> = Selectable<DB[T]>;

function toVertical(row: Row<'verticals'>): Vertical {
  return {
    key: row.key,
    fields: row.fields as VerticalField[],
    max_shared: row.max_shared,
    exclusive_days: row.exclusive_days,
    duplicate_days: row.duplicate_days,
  };
}

function toAffiliate(row: Row<'affiliates'>): Affiliate & { api_key_hash: string } {
  return {
    id: row.id,
    name: row.name,
    payout: row.payout as AffiliatePayout,
    status: row.status as EntityStatus,
    rate_limit_per_s: row.rate_limit_per_s,
    rate_limit_burst: row.rate_limit_burst,
    api_key_hash: row.api_key_hash,
  };
}

function toBuyer(row: Row<'buyers'>): Buyer & { api_key_hash: string } {
  return {
    id: row.id,
    name: row.name,
    balance: row.balance_cents === null ? null : toDollars(row.balance_cents),
    credit_limit: toDollars(row.credit_limit_cents),
    status: row.status as EntityStatus,
    api_key_hash: row.api_key_hash,
  };
}

function toCampaign(row: Row<'campaigns'>): CampaignWithSecret {
  return {
    id: row.id,
    buyer_id: row.buyer_id,
    name: row.name,
    vertical: row.vertical,
    mode: row.mode as SaleMode,
    pricing: row.pricing as Pricing,
    ping_url: row.ping_url,
    post_url: row.post_url,
    headers: row.headers as Record<string, string>,
    timeout_ms: row.timeout_ms,
    filters: (row.filters as Filter | null) ?? null,
    schedule: (row.schedule as Schedule | null) ?? null,
    caps: row.caps as Cap[],
    max_per_minute: row.max_per_minute,
    dedupe_days: row.dedupe_days,
    priority: row.priority,
    weight: row.weight,
    status: row.status as CampaignStatus,
    breaker: (row.breaker as BreakerSettings | null) ?? null,
    post_timeout_ms: row.post_timeout_ms,
    return_refunds_caps: row.return_refunds_caps,
    signing_secret: row.signing_secret,
  };
}

/** Strips the secret: what the admin API shows after creation. */
export function publicCampaign(campaign: CampaignWithSecret): Campaign {
  const { signing_secret: _secret, ...rest } = campaign;
  return rest;
}

const json = (value: unknown): string => JSON.stringify(value);
const nullableJson = (value: unknown): string | null => (value === null || value === undefined ? null : JSON.stringify(value));

export class CatalogRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  async loadAll(): Promise<CatalogRows> {
    const [verticals, affiliates, buyers, campaigns] = await Promise.all([
      this.#db.selectFrom('verticals').selectAll().orderBy('key').execute(),
      this.#db.selectFrom('affiliates').selectAll().orderBy('id').execute(),
      this.#db.selectFrom('buyers').selectAll().orderBy('id').execute(),
      this.#db.selectFrom('campaigns').selectAll().where('status', '<>', 'deleted').orderBy('id').execute(),
    ]);
    return {
      verticals: verticals.map(toVertical),
      affiliates: affiliates.map(toAffiliate),
      // The budget epoch is the exchange's business, not the operator's: only the catalog sees it.
      buyers: buyers.map((row) => ({ ...toBuyer(row), budget_epoch: row.budget_epoch })),
      campaigns: campaigns.map(toCampaign),
    };
  }

  // --- verticals

  async listVerticals(limit: number, after: string | null): Promise<Vertical[]> {
    let query = this.#db.selectFrom('verticals').selectAll().orderBy('key').limit(limit);
    if (after) query = query.where('key', '>', after);
    return (await query.execute()).map(toVertical);
  }

  async getVertical(key: string): Promise<Vertical | undefined> {
    const row = await this.#db.selectFrom('verticals').selectAll().where('key', '=', key).executeTakeFirst();
    return row && toVertical(row);
  }

  /** Returns false when the key already exists. */
  async insertVertical(vertical: Vertical): Promise<boolean> {
    const result = await this.#db
      .insertInto('verticals')
      .values({ ...vertical, fields: json(vertical.fields) })
      .onConflict((oc) => oc.column('key').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  async updateVertical(key: string, patch: Partial<Omit<Vertical, 'key'>>): Promise<Vertical | undefined> {
    const row = await this.#db
      .updateTable('verticals')
      .set({
        ...(patch.fields !== undefined ? { fields: json(patch.fields) } : {}),
        ...(patch.max_shared !== undefined ? { max_shared: patch.max_shared } : {}),
        ...(patch.exclusive_days !== undefined ? { exclusive_days: patch.exclusive_days } : {}),
        ...(patch.duplicate_days !== undefined ? { duplicate_days: patch.duplicate_days } : {}),
        updated_at: new Date(),
      })
      .where('key', '=', key)
      .returningAll()
      .executeTakeFirst();
    return row && toVertical(row);
  }

  // --- affiliates

  async listAffiliates(limit: number, after: string | null): Promise<Affiliate[]> {
    let query = this.#db.selectFrom('affiliates').selectAll().orderBy('id').limit(limit);
    if (after) query = query.where('id', '>', after);
    return (await query.execute()).map(toAffiliate).map(withoutKeyHash);
  }

  async getAffiliate(id: string): Promise<Affiliate | undefined> {
    const row = await this.#db.selectFrom('affiliates').selectAll().where('id', '=', id).executeTakeFirst();
    return row && withoutKeyHash(toAffiliate(row));
  }

  async insertAffiliate(affiliate: Affiliate, apiKeyHash: string): Promise<void> {
    await this.#db
      .insertInto('affiliates')
      .values({ ...affiliate, payout: json(affiliate.payout), api_key_hash: apiKeyHash })
      .execute();
  }

  async updateAffiliate(id: string, patch: Partial<Omit<Affiliate, 'id'>>): Promise<Affiliate | undefined> {
    const row = await this.#db
      .updateTable('affiliates')
      .set({
        ...(patch.name !== undefined ? { name: patch.name } : {}),
        ...(patch.payout !== undefined ? { payout: json(patch.payout) } : {}),
        ...(patch.status !== undefined ? { status: patch.status } : {}),
        ...(patch.rate_limit_per_s !== undefined ? { rate_limit_per_s: patch.rate_limit_per_s } : {}),
        ...(patch.rate_limit_burst !== undefined ? { rate_limit_burst: patch.rate_limit_burst } : {}),
        updated_at: new Date(),
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row && withoutKeyHash(toAffiliate(row));
  }

  // --- buyers

  async listBuyers(limit: number, after: string | null): Promise<Buyer[]> {
    let query = this.#db.selectFrom('buyers').selectAll().orderBy('id').limit(limit);
    if (after) query = query.where('id', '>', after);
    return (await query.execute()).map(toBuyer).map(withoutKeyHash);
  }

  async getBuyer(id: string): Promise<Buyer | undefined> {
    const row = await this.#db.selectFrom('buyers').selectAll().where('id', '=', id).executeTakeFirst();
    return row && withoutKeyHash(toBuyer(row));
  }

  async insertBuyer(buyer: Buyer, apiKeyHash: string): Promise<void> {
    await this.#db
      .insertInto('buyers')
      .values({
        id: buyer.id,
        name: buyer.name,
        status: buyer.status,
        balance_cents: buyer.balance === null ? null : toCents(buyer.balance),
        credit_limit_cents: toCents(buyer.credit_limit),
        api_key_hash: apiKeyHash,
      })
      .execute();
  }

  async updateBuyer(id: string, patch: Partial<Omit<Buyer, 'id'>>): Promise<Buyer | undefined> {
    const row = await this.#db
      .updateTable('buyers')
      .set({
        ...(patch.name !== undefined ? { name: patch.name } : {}),
        ...(patch.status !== undefined ? { status: patch.status } : {}),
        // Setting the balance starts a new budget epoch: spending counts from the new balance.
        ...(patch.balance !== undefined
          ? { balance_cents: patch.balance === null ? null : toCents(patch.balance), budget_epoch: sql<number>`budget_epoch + 1` }
          : {}),
        ...(patch.credit_limit !== undefined ? { credit_limit_cents: toCents(patch.credit_limit) } : {}),
        updated_at: new Date(),
      })
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row && withoutKeyHash(toBuyer(row));
  }

  // --- campaigns

  async listCampaigns(limit: number, after: string | null): Promise<Campaign[]> {
    let query = this.#db.selectFrom('campaigns').selectAll().where('status', '<>', 'deleted').orderBy('id').limit(limit);
    if (after) query = query.where('id', '>', after);
    return (await query.execute()).map(toCampaign).map(publicCampaign);
  }

  async getCampaign(id: string): Promise<Campaign | undefined> {
    const row = await this.#db
      .selectFrom('campaigns')
      .selectAll()
      .where('id', '=', id)
      .where('status', '<>', 'deleted')
      .executeTakeFirst();
    return row && publicCampaign(toCampaign(row));
  }

  async insertCampaign(campaign: CampaignWithSecret): Promise<void> {
    await this.#db
      .insertInto('campaigns')
      .values({
        ...campaign,
        pricing: json(campaign.pricing),
        headers: json(campaign.headers),
        caps: json(campaign.caps),
        filters: nullableJson(campaign.filters),
        schedule: nullableJson(campaign.schedule),
        breaker: nullableJson(campaign.breaker),
      } satisfies Insertable<CampaignsTable>)
      .execute();
  }

  async updateCampaign(id: string, patch: Partial<Omit<CampaignWithSecret, 'id' | 'buyer_id'>>): Promise<Campaign | undefined> {
    const row = await this.#db
      .updateTable('campaigns')
      .set({ ...campaignColumns(patch), updated_at: new Date() })
      .where('id', '=', id)
      .where('status', '<>', 'deleted')
      .returningAll()
      .executeTakeFirst();
    return row && publicCampaign(toCampaign(row));
  }
}

function withoutKeyHash<T extends { api_key_hash: string }>(entity: T): Omit<T, 'api_key_hash'> {
  const { api_key_hash: _hash, ...rest } = entity;
  return rest;
}

/** JSON-encodes the JSON columns of a (partial) campaign; leaves absent fields absent. */
function campaignColumns(campaign: Partial<CampaignWithSecret>): Updateable<CampaignsTable> {
  const columns: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(campaign)) {
    if (value === undefined) continue;
    if (key === 'pricing' || key === 'headers' || key === 'caps') columns[key] = json(value);
    else if (key === 'filters' || key === 'schedule' || key === 'breaker') columns[key] = nullableJson(value);
    else columns[key] = value;
  }
  return columns as Updateable<CampaignsTable>;
}
