// The store call that ends an auction also carries what the auction decided: a sold lead's cap
// commits, a two-phase ping's hold. When Redis is lost right then, a recorded sale stands and its
// commit is retried until it lands (the sweeper never gives its caps back), and a ping whose hold
// may not be stored answers 503 rather than a bid that cannot be posted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accepting, bidding, startBuyerServer, type BuyerServer, type Handler } from '../support/buyer-server.ts';
import { sampleLead, startExchange, type TestExchange } from '../support/exchange.ts';
import { startOwnRedis, type OwnService } from '../support/own-services.ts';
import { waitFor } from '../support/traffic.ts';
import { withStoreMethod } from '../support/store-method.ts';
import type { AuctionEnd, Store } from '../../src/store/store.ts';

let redis: OwnService;
let exchange: TestExchange;
const servers: BuyerServer[] = [];
/** Set by a test: Redis dies just before the next auction-ending call that stores a hold. */
let stopRedisBeforeHold = false;

/** The real store, but Redis really goes down the moment a ping's hold is about to be stored. */
function stoppingBeforeHold(store: Store): Store {
  return withStoreMethod(store, 'endAuction', (endAuction) => async (end: AuctionEnd) => {
    if (end.hold && stopRedisBeforeHold) {
      stopRedisBeforeHold = false;
      await redis.stop();
    }
    return endAuction(end);
  });
}

beforeAll(async () => {
  // Durable like a production Redis holding caps: a crash keeps the reservation it acknowledged.
  redis = await startOwnRedis({ durable: true });
  exchange = await startExchange({ label: 'endoutage', redisUrl: redis.url, settings: { holdTtlMs: 1000 }, wrapStore: stoppingBeforeHold });
  await exchange.admin.vertical();
}, 60_000);

afterAll(async () => {
  await exchange?.close();
  await Promise.all(servers.map((s) => s.close()));
  await redis?.destroy();
});

async function campaignOf(post: Handler): Promise<string> {
  const server = await startBuyerServer({ ping: bidding(20), post });
  servers.push(server);
  const { id: buyerId } = await exchange.admin.buyer();
  const campaign = await exchange.admin.campaign({ buyer_id: buyerId, ping_url: server.pingUrl, post_url: server.postUrl, caps: [{ period: 'day', leads: 10 }] });
  await exchange.admin.activateOnly([campaign.id]);
  return campaign.id;
}

const capUsed = async (campaignId: string): Promise<number> =>
  (await exchange.admin.request('GET', `/campaigns/${campaignId}/status`)).caps[0].used;

async function redisBack(): Promise<void> {
  await redis.start();
  await waitFor(() => exchange.runtime.deps.availability.unavailable() === null, 10_000, 'the exchange to see Redis again');
}

describe('Redis lost as an auction ends', () => {
  it('after a recorded sale: the sale stands and its commit lands once Redis is back', async () => {
    const accept = accepting();
    // The buyer takes the lead, and Redis dies before the exchange hears back.
    const campaignId = await campaignOf(async (req) => (await redis.stop(), accept(req)));
    const { api_key: key } = await exchange.admin.affiliate();

    const answer = await exchange.call('POST', '/v1/leads', { token: key, body: sampleLead() });

    expect(answer.body).toMatchObject({ status: 'sold', buyers: 1 });
    const { commits } = exchange.runtime.deps;
    // The answer does not wait for the call that ends the auction; once it has failed, its
    // commit is the committer's to retry.
    await commits.landed();
    expect(commits.pending).toBe(1);

    await redisBack();
    await waitFor(() => commits.pending === 0, 10_000, 'the commit to land');
    // Whatever the time, the sweeper has nothing of this sale to give back.
    expect(await exchange.store.releaseExpired(Date.now() + 86_400_000, 100)).toEqual([]);
    expect(await capUsed(campaignId)).toBe(1);
  });

  it('before a ping\'s hold is stored: 503 rather than a bid, and the reservation is given back', async () => {
    const campaignId = await campaignOf(accepting());
    const { api_key: key } = await exchange.admin.affiliate();
    stopRedisBeforeHold = true;

    const lead = sampleLead();
    const ping = await exchange.call('POST', '/v1/ping', { token: key, body: { vertical: lead.vertical, data: lead.data } });

    expect(ping.status).toBe(503);
    expect(ping.body).toMatchObject({ status: 503, title: 'Service unavailable' });
    await redisBack();
    // The hold's reservation could not be released while Redis was down: it expires instead.
    await waitFor(async () => (await capUsed(campaignId)) === 0, 10_000, 'the reservation to be swept');
  });
});
