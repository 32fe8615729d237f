// A sold lead is answered once it is recorded: the store call that ends its auction (its cap
// commits, what it taught about the consumer, the consumer's lock) is not waited for. Until that
// call has landed the consumer stays locked, so the same consumer sent again meanwhile waits for
// it and is then told it is a duplicate.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accepting, bidding, startBuyerServer, type BuyerServer } from '../support/buyer-server.ts';
import { sampleLead, startExchange, type TestExchange } from '../support/exchange.ts';
import { withStoreMethod } from '../support/store-method.ts';
import type { AuctionEnd, Store } from '../../src/store/store.ts';

describe.each(['redis', 'memory'] as const)('the end of a sold auction with the %s store', (storeKind) => {
  let exchange: TestExchange;
  let server: BuyerServer;
  let affiliateKey: string;
  /** While set, every call that commits a sale waits for the test to let it through. */
  let gate: Promise<void> | null = null;
  let ended = 0;

  function gated(store: Store): Store {
    return withStoreMethod(store, 'endAuction', (endAuction) => async (end: AuctionEnd) => {
      if ((end.commitIds?.length ?? 0) > 0 && gate) await gate;
      const done = await endAuction(end);
      ended++;
      return done;
    });
  }

  beforeAll(async () => {
    exchange = await startExchange({ label: `auction_end_${storeKind}`, store: storeKind, wrapStore: gated });
    await exchange.admin.vertical();
    affiliateKey = (await exchange.admin.affiliate()).api_key;
    server = await startBuyerServer({ ping: bidding(20), post: accepting() });
    const { id: buyerId } = await exchange.admin.buyer();
    const campaign = await exchange.admin.campaign({ buyer_id: buyerId, ping_url: server.pingUrl, post_url: server.postUrl });
    await exchange.admin.activateOnly([campaign.id]);
  });

  afterAll(async () => {
    gate = null;
    await exchange?.close();
    await server?.close();
  });

  it('answers sold before that call lands, and the consumer sent again meanwhile is a duplicate once it has', async () => {
    let letGo!: () => void;
    gate = new Promise<void>((resolve) => (letGo = resolve));
    const lead = sampleLead();
    const endedBefore = ended;

    const first = await exchange.call('POST', '/v1/leads', { token: affiliateKey, body: lead });
    expect(first.body).toMatchObject({ status: 'sold', buyers: 1 });
    expect(ended).toBe(endedBefore);

    const again = exchange.call('POST', '/v1/leads', { token: affiliateKey, body: lead });
    await new Promise((resolve) => setTimeout(resolve, 100));
    letGo();
    gate = null;

    expect((await again).body).toMatchObject({ status: 'duplicate', reasons: ['duplicate_consumer'] });
    expect(server.received.posts).toHaveLength(1);
    await exchange.runtime.deps.commits.landed();
    expect(ended).toBeGreaterThan(endedBefore);
  });
});
