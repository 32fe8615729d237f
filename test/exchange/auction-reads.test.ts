// What an auction reads from the store in its one opening round trip: each buyer's budget and
// purchases once, however many of its campaigns are candidates, and every campaign's own caps.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accepting, bidding, startBuyerServer, type BuyerServer } from '../support/buyer-server.ts';
import type { HashRead } from '../../src/store/store.ts';
import { countingStore, type CountingStore } from '../support/counting-store.ts';
import { sampleLead, startExchange, type TestExchange } from '../support/exchange.ts';

let exchange: TestExchange;
let counting: CountingStore;
let buyer: BuyerServer;
let affiliateKey: string;
let buyerId: string;
const campaignIds: string[] = [];

beforeAll(async () => {
  exchange = await startExchange({ label: 'auctionreads', store: 'memory', wrapStore: (store) => (counting = countingStore(store)).store });
  await exchange.admin.vertical();
  affiliateKey = (await exchange.admin.affiliate()).api_key;
  buyer = await startBuyerServer({ ping: bidding(20), post: accepting() });
  buyerId = (await exchange.admin.buyer()).id;
  for (const period of ['day', 'hour', 'month']) {
    const { id } = await exchange.admin.campaign({ buyer_id: buyerId, ping_url: buyer.pingUrl, post_url: buyer.postUrl, caps: [{ period, leads: 1000 }] });
    campaignIds.push(id);
  }
});

afterAll(async () => {
  await exchange?.close();
  await buyer?.close();
});

describe('an auction’s reads', () => {
  it('take a buyer’s budget and purchases once for all its campaigns, and each campaign’s caps', async () => {
    counting.reset();
    const answer = await exchange.call('POST', '/v1/leads', { token: affiliateKey, body: sampleLead() });
    expect(answer.body).toMatchObject({ status: 'sold' });
    const begin = counting.calls.find((call) => call.method === 'beginAuction')!;
    const readKeys = begin.args[2] as string[];
    const readHashes = begin.args[3] as HashRead[];
    expect(new Set(readKeys).size).toBe(readKeys.length);
    expect(readKeys.filter((key) => key.startsWith(`budget:${buyerId}:`))).toHaveLength(1);
    for (const id of campaignIds) expect(readKeys.filter((key) => key.startsWith(`cap:${id}:`))).toHaveLength(1);
    // The consumer's history is one hash per contact hash (e-mail and phone), not a key per fact:
    // the buyer's purchases are one field of each, not one per campaign.
    expect(readKeys.filter((key) => key.startsWith('history:'))).toEqual([]);
    expect(readHashes.map((hash) => hash.key)).toEqual([expect.stringMatching(/^history:[0-9a-f]{64}$/), expect.stringMatching(/^history:[0-9a-f]{64}$/)]);
    for (const hash of readHashes) expect(hash.fields.filter((field) => field === `bought:${buyerId}`)).toHaveLength(1);
  });
});
