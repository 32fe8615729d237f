// The in-memory view of the configuration that the hot path reads: no database round trip per
// lead. Reloaded as a whole after every admin change (the tables are small).
import type { CatalogRows } from '../db/catalog-repository.ts';
import { ApiKeyIndex } from './api-keys.ts';
import type { Affiliate, Buyer, CampaignWithSecret, Vertical } from './types.ts';

export interface CatalogSource {
  loadAll(): Promise<CatalogRows>;
}

interface Snapshot {
  verticals: Map<string, Vertical>;
  affiliates: Map<string, Affiliate>;
  affiliatesByKeyHash: ApiKeyIndex<Affiliate>;
  buyers: Map<string, Buyer>;
  buyersByKeyHash: ApiKeyIndex<Buyer>;
  campaigns: Map<string, CampaignWithSecret>;
  campaignsByVertical: Map<string, CampaignWithSecret[]>;
  /** Per buyer, the longest dedupe window of its campaigns: how long its purchases are remembered. */
  dedupeDaysByBuyer: Map<string, number>;
}

function buildSnapshot(rows: CatalogRows): Snapshot {
  const snapshot: Snapshot = {
    verticals: new Map(rows.verticals.map((v) => [v.key, v])),
    affiliates: new Map(),
    affiliatesByKeyHash: new ApiKeyIndex(),
    buyers: new Map(),
    buyersByKeyHash: new ApiKeyIndex(),
    campaigns: new Map(),
    campaignsByVertical: new Map(),
    dedupeDaysByBuyer: new Map(),
  };
  for (const { api_key_hash, ...affiliate } of rows.affiliates) {
    snapshot.affiliates.set(affiliate.id, affiliate);
    snapshot.affiliatesByKeyHash.add(api_key_hash, affiliate);
  }
  for (const { api_key_hash, ...buyer } of rows.buyers) {
    snapshot.buyers.set(buyer.id, buyer);
    snapshot.buyersByKeyHash.add(api_key_hash, buyer);
  }
  for (const campaign of rows.campaigns) {
    snapshot.campaigns.set(campaign.id, campaign);
    const list = snapshot.campaignsByVertical.get(campaign.vertical) ?? [];
    list.push(campaign);
    snapshot.campaignsByVertical.set(campaign.vertical, list);
    const days = snapshot.dedupeDaysByBuyer.get(campaign.buyer_id) ?? 0;
    snapshot.dedupeDaysByBuyer.set(campaign.buyer_id, Math.max(days, campaign.dedupe_days));
  }
  return snapshot;
}

export class Catalog {
  readonly #source: CatalogSource;
  #snapshot: Snapshot = buildSnapshot({ verticals: [], affiliates: [], buyers: [], campaigns: [] });
  #requested = 0;
  #applied = 0;
  readonly #listeners = new Set<() => void>();

  constructor(source: CatalogSource) {
    this.#source = source;
  }

  /** How other exchange nodes hear of a change made here (set by the runtime). */
  announce: () => Promise<void> = async () => {};

  /**
   * The configuration was changed through this node: reload it here at once, and tell every
   * other node to reload (they do within about a second, see runtime.ts).
   */
  async changed(): Promise<void> {
    await this.reload();
    await this.announce();
  }

  /** Reloads everything; a slower older load never overwrites a newer one. */
  async reload(): Promise<void> {
    const generation = ++this.#requested;
    const rows = await this.#source.loadAll();
    if (generation < this.#applied) return;
    this.#applied = generation;
    this.#snapshot = buildSnapshot(rows);
    for (const listener of this.#listeners) listener();
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  vertical(key: string): Vertical | undefined {
    return this.#snapshot.verticals.get(key);
  }

  affiliate(id: string): Affiliate | undefined {
    return this.#snapshot.affiliates.get(id);
  }

  affiliateByKeyHash(hash: string): Affiliate | undefined {
    return this.#snapshot.affiliatesByKeyHash.find(hash);
  }

  buyer(id: string): Buyer | undefined {
    return this.#snapshot.buyers.get(id);
  }

  buyerByKeyHash(hash: string): Buyer | undefined {
    return this.#snapshot.buyersByKeyHash.find(hash);
  }

  campaign(id: string): CampaignWithSecret | undefined {
    return this.#snapshot.campaigns.get(id);
  }

  /** Campaigns (not deleted) of a vertical, whatever their status: exclusion is recorded, not hidden. */
  campaignsFor(vertical: string): readonly CampaignWithSecret[] {
    return this.#snapshot.campaignsByVertical.get(vertical) ?? [];
  }

  dedupeDaysOf(buyerId: string): number {
    return this.#snapshot.dedupeDaysByBuyer.get(buyerId) ?? 0;
  }

  /** Every origin a campaign pings or posts to, so the buyer client can drop unused pools. */
  origins(): Set<string> {
    const origins = new Set<string>();
    for (const campaign of this.#snapshot.campaigns.values()) {
      for (const url of [campaign.ping_url, campaign.post_url]) if (url) origins.add(new URL(url).origin);
    }
    return origins;
  }
}
