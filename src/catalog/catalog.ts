// The in-memory view of the configuration that the hot path reads: no database round trip per
// lead. Reloaded as a whole after every admin change (the tables are small).
import type { CatalogRows } from '../db/catalog-repository.ts';
import type { Affiliate, Buyer, CampaignWithSecret, Vertical } from './types.ts';

export interface CatalogSource {
  loadAll(): Promise<CatalogRows>;
}

interface Snapshot {
  verticals: Map<string, Vertical>;
  affiliates: Map<string, Affiliate>;
  affiliatesByKeyHash: Map<string, Affiliate>;
  buyers: Map<string, Buyer>;
  buyersByKeyHash: Map<string, Buyer>;
  campaigns: Map<string, CampaignWithSecret>;
  campaignsByVertical: Map<string, CampaignWithSecret[]>;
}

function buildSnapshot(rows: CatalogRows): Snapshot {
  const snapshot: Snapshot = {
    verticals: new Map(rows.verticals.map((v) => [v.key, v])),
    affiliates: new Map(),
    affiliatesByKeyHash: new Map(),
    buyers: new Map(),
    buyersByKeyHash: new Map(),
    campaigns: new Map(),
    campaignsByVertical: new Map(),
  };
  for (const { api_key_hash, ...affiliate } of rows.affiliates) {
    snapshot.affiliates.set(affiliate.id, affiliate);
    snapshot.affiliatesByKeyHash.set(api_key_hash, affiliate);
  }
  for (const { api_key_hash, ...buyer } of rows.buyers) {
    snapshot.buyers.set(buyer.id, buyer);
    snapshot.buyersByKeyHash.set(api_key_hash, buyer);
  }
  for (const campaign of rows.campaigns) {
    snapshot.campaigns.set(campaign.id, campaign);
    const list = snapshot.campaignsByVertical.get(campaign.vertical) ?? [];
    list.push(campaign);
    snapshot.campaignsByVertical.set(campaign.vertical, list);
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
    return this.#snapshot.affiliatesByKeyHash.get(hash);
  }

  buyer(id: string): Buyer | undefined {
    return this.#snapshot.buyers.get(id);
  }

  buyerByKeyHash(hash: string): Buyer | undefined {
    return this.#snapshot.buyersByKeyHash.get(hash);
  }

  campaign(id: string): CampaignWithSecret | undefined {
    return this.#snapshot.campaigns.get(id);
  }

  /** Campaigns (not deleted) of a vertical, whatever their status: exclusion is recorded, not hidden. */
  campaignsFor(vertical: string): readonly CampaignWithSecret[] {
    return this.#snapshot.campaignsByVertical.get(vertical) ?? [];
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
