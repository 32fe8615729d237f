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

/** An entity as the hot path sees it, and the row it was made from. */
interface Loaded<T> {
  row: string;
  value: T;
}

/** An entity with the hash of its API key, which the snapshot indexes but does not hand out. */
interface Keyed<T> {
  entity: T;
  keyHash: string;
}

/** One load's entities by id (verticals by key), in the order the source gave them. */
interface Load {
  verticals: Map<string, Loaded<Vertical>>;
  affiliates: Map<string, Loaded<Keyed<Affiliate>>>;
  buyers: Map<string, Loaded<Keyed<Buyer>>>;
  campaigns: Map<string, Loaded<CampaignWithSecret>>;
}

const EMPTY_LOAD: Load = { verticals: new Map(), affiliates: new Map(), buyers: new Map(), campaigns: new Map() };

// A row that reads as it did at the last load keeps the object made from it then. Objects are
// never changed in place, so what is cached per object (signing keys, breaker signatures, cap
// counters) stays right, and stays made: the periodic reload mostly finds nothing new.
function reuseUnchanged<R, T>(rows: readonly R[], idOf: (row: R) => string, toValue: (row: R) => T, before: Map<string, Loaded<T>>): Map<string, Loaded<T>> {
  const loaded = new Map<string, Loaded<T>>();
  for (const row of rows) {
    const id = idOf(row);
    const text = JSON.stringify(row);
    const previous = before.get(id);
    loaded.set(id, previous !== undefined && previous.row === text ? previous : { row: text, value: toValue(row) });
  }
  return loaded;
}

function keyed<T>({ api_key_hash, ...entity }: T & { api_key_hash: string }): Keyed<T> {
  return { entity: entity as T, keyHash: api_key_hash };
}

function loadOf(rows: CatalogRows, before: Load): Load {
  return {
    verticals: reuseUnchanged(rows.verticals, (v) => v.key, (v) => v, before.verticals),
    affiliates: reuseUnchanged(rows.affiliates, (a) => a.id, keyed<Affiliate>, before.affiliates),
    buyers: reuseUnchanged(rows.buyers, (b) => b.id, keyed<Buyer>, before.buyers),
    campaigns: reuseUnchanged(rows.campaigns, (c) => c.id, (c) => c, before.campaigns),
  };
}

function sameEntities<T>(a: Map<string, Loaded<T>>, b: Map<string, Loaded<T>>): boolean {
  if (a.size !== b.size) return false;
  for (const [id, loaded] of a) if (b.get(id) !== loaded) return false;
  return true;
}

function sameLoad(a: Load, b: Load): boolean {
  return sameEntities(a.verticals, b.verticals) && sameEntities(a.affiliates, b.affiliates) && sameEntities(a.buyers, b.buyers) && sameEntities(a.campaigns, b.campaigns);
}

function buildSnapshot(load: Load): Snapshot {
  const snapshot: Snapshot = {
    verticals: new Map(),
    affiliates: new Map(),
    affiliatesByKeyHash: new ApiKeyIndex(),
    buyers: new Map(),
    buyersByKeyHash: new ApiKeyIndex(),
    campaigns: new Map(),
    campaignsByVertical: new Map(),
    dedupeDaysByBuyer: new Map(),
  };
  for (const [key, { value }] of load.verticals) snapshot.verticals.set(key, value);
  for (const [id, { value }] of load.affiliates) {
    snapshot.affiliates.set(id, value.entity);
    snapshot.affiliatesByKeyHash.add(value.keyHash, value.entity);
  }
  for (const [id, { value }] of load.buyers) {
    snapshot.buyers.set(id, value.entity);
    snapshot.buyersByKeyHash.add(value.keyHash, value.entity);
  }
  for (const [id, { value: campaign }] of load.campaigns) {
    snapshot.campaigns.set(id, campaign);
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
  #load: Load = EMPTY_LOAD;
  #snapshot: Snapshot = buildSnapshot(EMPTY_LOAD);
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

  /**
   * Reloads everything; a slower older load never overwrites a newer one. Listeners hear of a
   * load that changed something; one that found every row as it was changes nothing.
   */
  async reload(): Promise<void> {
    const generation = ++this.#requested;
    const rows = await this.#source.loadAll();
    if (generation < this.#applied) return;
    this.#applied = generation;
    const load = loadOf(rows, this.#load);
    if (sameLoad(load, this.#load)) return;
    this.#load = load;
    this.#snapshot = buildSnapshot(load);
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
