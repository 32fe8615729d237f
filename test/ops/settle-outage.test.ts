// The store call that ends a sold auction also commits its cap reservations. When Redis is lost
// right then — after the buyer accepted and the sale was recorded — the sale stands, the commit is
// retried until it lands, and the caps it used are never given back by the sweeper.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accepting, bidding, startBuyerServer, type BuyerServer } from '../support/buyer-server.ts';
import { sampleLead, startExchange, type TestExchange } from '../support/exchange.ts';
import { startOwnRedis, type OwnService } from '../support/own-services.ts';
import { waitFor } from '../support/traffic.ts';

let redis: OwnService;
let exchange: TestExchange;
let buyer: BuyerServer;

beforeAll(async () => {
  // Durable like a production Redis holding caps: a crash keeps the reservation it acknowledged.
  redis = await startOwnRedis({ durable: true });
  exchange = await startExchange({ label: 'settleoutage', redisUrl: redis.url });
  await exchange.admin.vertical();
}, 60_000);

afterAll(async () => {
  await exchange?.close();
  await buyer?.close();
  await redis?.destroy();
});

describe('Redis lost between a recorded sale and the end of its auction', () => {
  it('the sale stands and its commit lands once Redis is back: the sweeper gives nothing back', async () => {
    const accept = accepting();
    // The buyer takes the lead, and Redis dies before the exchange hears back.
    buyer = await startBuyerServer({ ping: bidding(20), post: async (req) => (await redis.stop(), accept(req)) });
    const { id: buyerId } = await exchange.admin.buyer();
    const campaign = await exchange.admin.campaign({ buyer_id: buyerId, ping_url: buyer.pingUrl, post_url: buyer.postUrl, caps: [{ period: 'day', leads: 10 }] });
    const { api_key: key } = await exchange.admin.affiliate();

    const answer = await exchange.call('POST', '/v1/leads', { token: key, body: sampleLead() });

    expect(answer.body).toMatchObject({ status: 'sold', buyers: 1 });
    const { commits } = exchange.runtime.deps;
    expect(commits.pending).toBe(1);

    await redis.start();
    await waitFor(() => commits.pending === 0, 10_000, 'the commit to land');
    // Whatever the time, the sweeper has nothing of this sale to give back.
    expect(await exchange.store.releaseExpired(Date.now() + 86_400_000, 100)).toEqual([]);
    const status = await exchange.admin.request('GET', `/campaigns/${campaign.id}/status`);
    expect(status.caps).toEqual([expect.objectContaining({ measure: 'leads', used: 1 })]);
  });
});
