// The catalog's reloads: every node reloads every 30 s and after every admin change, and most
// of those loads find nothing new. An unchanged entity keeps its object (what is cached per
// object stays warm), a changed one gets a new object, and only a load that changed something
// is announced to the catalog's listeners.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../../src/catalog/catalog.ts';
import { CatalogRepository } from '../../src/db/catalog-repository.ts';
import { hashApiKey } from '../../src/catalog/api-keys.ts';
import { startExchange, type TestExchange } from '../support/exchange.ts';

let exchange: TestExchange;
let first: string;
let second: string;
let affiliateKey: string;
let buyerId: string;

// A catalog of its own over the exchange's database: it loads only when a test says so, while
// the exchange's admin API changes the rows under it.
let catalog: Catalog;
let announced: number;

beforeAll(async () => {
  exchange = await startExchange({ label: 'catalog_reload', store: 'memory' });
  await exchange.admin.vertical();
  affiliateKey = (await exchange.admin.affiliate()).api_key;
  const buyer = await exchange.admin.buyer();
  buyerId = buyer.id;
  const urls = { ping_url: 'http://127.0.0.1:9/ping', post_url: 'http://127.0.0.1:9/post' };
  first = (await exchange.admin.campaign({ buyer_id: buyer.id, ...urls })).id;
  second = (await exchange.admin.campaign({ buyer_id: buyer.id, ...urls })).id;
});

afterAll(async () => {
  await exchange?.close();
});

beforeEach(async () => {
  catalog = new Catalog(new CatalogRepository(exchange.database.db));
  await catalog.reload();
  announced = 0;
  catalog.onChange(() => announced++);
});

describe('reloading the catalog', () => {
  it('hands out the same objects, and announces nothing, when no row changed', async () => {
    const before = {
      vertical: catalog.vertical('auto_insurance'),
      affiliate: catalog.affiliateByKeyHash(hashApiKey(affiliateKey)),
      buyer: catalog.buyer(buyerId),
      campaigns: catalog.campaignsFor('auto_insurance'),
    };
    expect(before.campaigns.map((c) => c.id).sort()).toEqual([first, second].sort());

    await catalog.reload();
    await catalog.reload();

    expect(catalog.vertical('auto_insurance')).toBe(before.vertical);
    expect(catalog.affiliateByKeyHash(hashApiKey(affiliateKey))).toBe(before.affiliate);
    expect(catalog.buyer(buyerId)).toBe(before.buyer);
    expect(catalog.campaign(first)).toBe(before.campaigns.find((c) => c.id === first));
    expect(catalog.campaign(second)).toBe(before.campaigns.find((c) => c.id === second));
    expect(catalog.campaignsFor('auto_insurance')).toBe(before.campaigns);
    expect(announced).toBe(0);
  });

  it('gives a changed campaign a new object with its new settings, keeps the others, and announces it', async () => {
    const before = { first: catalog.campaign(first), second: catalog.campaign(second), buyer: catalog.buyer(buyerId) };

    await exchange.admin.request('PATCH', `/campaigns/${first}`, { timeout_ms: 321 });
    await catalog.reload();

    expect(catalog.campaign(first)).not.toBe(before.first);
    expect(catalog.campaign(first)?.timeout_ms).toBe(321);
    expect(before.first?.timeout_ms).not.toBe(321);
    expect(catalog.campaign(second)).toBe(before.second);
    expect(catalog.buyer(buyerId)).toBe(before.buyer);
    expect(catalog.campaignsFor('auto_insurance')).toEqual([catalog.campaign(first), catalog.campaign(second)].sort((a, b) => a!.id.localeCompare(b!.id)));
    expect(announced).toBe(1);
  });

  it('drops a deleted campaign and finds a new one, announcing each', async () => {
    const kept = catalog.campaign(second);
    await exchange.admin.request('DELETE', `/campaigns/${first}`);
    await catalog.reload();
    expect(catalog.campaign(first)).toBeUndefined();
    expect(catalog.campaignsFor('auto_insurance')).toEqual([kept]);
    expect(announced).toBe(1);

    const added = await exchange.admin.campaign({ buyer_id: buyerId, ping_url: 'http://127.0.0.1:9/ping', post_url: 'http://127.0.0.1:9/post' });
    await catalog.reload();
    expect(catalog.campaign(added.id)?.id).toBe(added.id);
    expect(catalog.campaign(second)).toBe(kept);
    expect(announced).toBe(2);
  });

  it('finds a changed affiliate through its API key, as changed', async () => {
    const before = catalog.affiliateByKeyHash(hashApiKey(affiliateKey));
    expect(before?.status).toBe('active');
    await exchange.admin.request('PATCH', `/affiliates/${before?.id}`, { status: 'paused' });
    await catalog.reload();

    expect(catalog.affiliateByKeyHash(hashApiKey(affiliateKey))).toMatchObject({ id: before?.id, status: 'paused' });
    expect(catalog.affiliate(before!.id)).toBe(catalog.affiliateByKeyHash(hashApiKey(affiliateKey)));
    expect(announced).toBe(1);
  });
});
