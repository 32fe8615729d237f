// What an auction costs the store, counted on the real store (Redis) of a real exchange: the
// round trips of a direct post and of a two-phase ping and post, at a rate where rate-limit
// leases pay off (src/store/token-leases.ts). Before leases and the one-script auction end they
// were 5 and 10.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accepting, bidding, startBuyerServer, type BuyerServer } from '../support/buyer-server.ts';
import { countingStore, type CountingStore } from '../support/counting-store.ts';
import { contactHashes, normalizeEmail, normalizePhone } from '../../src/lead/contact.ts';
import { sampleLead, startExchange, type TestExchange } from '../support/exchange.ts';
import { startOwnRedis, type OwnService } from '../support/own-services.ts';

// Calls of the auction itself; the sweeper, health probes and configuration notices are not.
const BACKGROUND = new Set(['releaseExpired', 'ping', 'onConfigChange', 'announceConfigChange', 'close']);

let exchange: TestExchange;
let counting: CountingStore;
let buyer: BuyerServer;
let affiliateKey: string;
// A Redis of this file's own, so its command statistics count this exchange's calls only.
let redis: OwnService;
let admin: Redis;

beforeAll(async () => {
  redis = await startOwnRedis();
  admin = new Redis(redis.url);
  exchange = await startExchange({
    label: 'storecalls',
    redisUrl: redis.url,
    // The production default: 1000 per second, bursts of 2000.
    affiliateRateLimit: { perSecond: 1000, burst: 2000 },
    wrapStore: (store) => (counting = countingStore(store)).store,
  });
  await exchange.admin.vertical();
  affiliateKey = (await exchange.admin.affiliate()).api_key;
  buyer = await startBuyerServer({ ping: bidding(20), post: accepting() });
  const { id: buyerId } = await exchange.admin.buyer();
  await exchange.admin.campaign({ buyer_id: buyerId, ping_url: buyer.pingUrl, post_url: buyer.postUrl, caps: [{ period: 'day', leads: 1_000_000 }] });
});

afterAll(async () => {
  await exchange?.close();
  await buyer?.close();
  admin?.disconnect();
  await redis?.destroy();
});

/** Scripts Redis has run (every store call of an auction is one script). */
async function scriptsRun(): Promise<number> {
  const stats = await admin.info('commandstats');
  let calls = 0;
  for (const match of stats.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) calls += Number(match[1]);
  return calls;
}

/** Runs `each` `total` times, `workers` at a time; returns the auction's store calls per method, per run. */
async function callsPer(total: number, workers: number, each: () => Promise<void>): Promise<{ per: Record<string, number>; scripts: number }> {
  counting.reset();
  const scriptsBefore = await scriptsRun();
  let left = total;
  await Promise.all(Array.from({ length: workers }, async () => {
    while (left-- > 0) await each();
  }));
  // A sold lead's answer does not wait for the call that ends its auction.
  await exchange.runtime.deps.commits.landed();
  // The sweeper's scripts are not the auctions'.
  const scripts = (await scriptsRun()) - scriptsBefore - counting.count('releaseExpired');
  const per: Record<string, number> = {};
  for (const [method, calls] of counting.counts) if (!BACKGROUND.has(method)) per[method] = calls / total;
  return { per, scripts: scripts / total };
}

const total = (per: Record<string, number>) => Object.values(per).reduce((a, b) => a + b, 0);

describe('store calls per auction', () => {
  it('a direct post: the consumer lock with every read, the reservation, the end with its commit, and a share of a rate-limit lease', async () => {
    const { per, scripts } = await callsPer(300, 20, async () => {
      const answer = await exchange.call('POST', '/v1/leads', { token: affiliateKey, body: sampleLead() });
      expect(answer.body).toMatchObject({ status: 'sold' });
    });
    console.log('store calls per direct auction', total(per).toFixed(2), 'scripts run by Redis', scripts.toFixed(2), per);
    expect(per).toEqual({ takeTokens: expect.any(Number), beginAuction: 1, reserve: 1, endAuction: 1 });
    // Many auctions a second: a lease serves many of them.
    expect(per.takeTokens).toBeLessThan(0.5);
    expect(scripts).toBeLessThan(3.5);
  });

  it('a two-phase ping and post: the hold leaves with the ping\'s end, the post\'s consumer lock with its claim, the commit with the post\'s end', async () => {
    const { per, scripts } = await callsPer(200, 20, async () => {
      const lead = sampleLead();
      const contact_hashes = contactHashes({ email: normalizeEmail(lead.contact.email), phone: normalizePhone(lead.contact.phone) });
      const ping = await exchange.call('POST', '/v1/ping', { token: affiliateKey, body: { vertical: lead.vertical, data: lead.data, contact_hashes } });
      expect(ping.body).toMatchObject({ status: 'bid' });
      const post = await exchange.call('POST', '/v1/post', { token: affiliateKey, body: { ping_id: ping.body.ping_id, contact: lead.contact, consent: lead.consent } });
      expect(post.body).toMatchObject({ status: 'sold' });
    });
    console.log('store calls per ping + post', total(per).toFixed(2), 'scripts run by Redis', scripts.toFixed(2), per);
    // release() of no orphaned reservation is no round trip (Redis ran no script for it). The
    // post reached the node of its ping, which knew the hold's bids: its claim took the lock.
    expect(per).toEqual({ takeTokens: expect.any(Number), beginAuction: 1, reserve: 1, endAuction: 2, claimHold: 1, release: 1 });
    expect(per.takeTokens).toBeLessThan(1);
    expect(scripts).toBeLessThan(6);
  });
});
