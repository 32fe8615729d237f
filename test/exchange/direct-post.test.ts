// Section 3.1 and 5, end to end: real buyers on loopback, real Postgres and Redis.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accepting, bidding, noBid, rejecting, startBuyerServer, type BuyerServer } from '../support/buyer-server.ts';
import { sampleLead, startExchange, type TestExchange } from '../support/exchange.ts';
import { waitFor } from '../support/traffic.ts';

let exchange: TestExchange;
let affiliateKey: string;
const servers: BuyerServer[] = [];

async function buyerServer(behaviour: Parameters<typeof startBuyerServer>[0]): Promise<BuyerServer> {
  const server = await startBuyerServer(behaviour);
  servers.push(server);
  return server;
}

beforeAll(async () => {
  exchange = await startExchange({ label: 'direct' });
  await exchange.admin.vertical();
  affiliateKey = (await exchange.admin.affiliate({ payout: { type: 'revshare', percent: 80 } })).api_key;
});

afterAll(async () => {
  await exchange?.close();
  await Promise.all(servers.map((s) => s.close()));
});


async function biddingCampaign(amount: number, overrides: Record<string, unknown> = {}, post = accepting()) {
  const server = await buyerServer({ ping: bidding(amount), post });
  const buyer = await exchange.admin.buyer();
  const campaign = await exchange.admin.campaign({ buyer_id: buyer.id, ping_url: server.pingUrl, post_url: server.postUrl, ...overrides });
  return { server, buyer, campaign };
}

/** leadex_lead_record_seconds' count and sum, from /metrics. */
async function recordHistogram(): Promise<{ count: number; sum: number }> {
  const text = await (await fetch(`${exchange.url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
  return { count: value('leadex_lead_record_seconds_count'), sum: value('leadex_lead_record_seconds_sum') };
}

describe('a direct post', () => {
  it('sells an exclusive lead to the highest bid and records the sale before answering', async () => {
    const low = await biddingCampaign(10);
    const high = await biddingCampaign(21);
    const mid = await biddingCampaign(15);
    await exchange.admin.activateOnly([low.campaign.id, high.campaign.id, mid.campaign.id]);

    const answer = await exchange.call('POST', '/v1/leads', { token: affiliateKey, body: sampleLead() });

    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ status: 'sold', mode: 'exclusive', buyers: 1, payout: 16.8 });
    expect(high.server.received.posts).toHaveLength(1);
    expect(low.server.received.posts).toHaveLength(0);
    expect(mid.server.received.posts).toHaveLength(0);
    const post = high.server.received.posts[0]!.json as Record<string, any>;
    expect(post).toMatchObject({ lead_id: answer.body.lead_id, price: 21, mode: 'exclusive', contact: { email: expect.stringContaining('@example.com') } });

    const lead = await exchange.admin.lead(answer.body.lead_id);
    expect(lead.lead.status).toBe('sold');
    expect(lead.sales).toEqual([expect.objectContaining({ campaign_id: high.campaign.id, price: 21, payout: 16.8 })]);
  });

  it('stamps the sale with the moment it was recorded, so a slow commit shows between acceptance and sale', async () => {
    const { campaign } = await biddingCampaign(19);
    await exchange.admin.activateOnly([campaign.id]);
    // Another session holds the leads table: the sale's insert waits on real Postgres until it lets go.
    let locked!: () => void;
    const lockHeld = new Promise<void>((resolve) => (locked = resolve));
    const HOLD_MS = 300;
    const holder = exchange.database.db.transaction().execute(async (trx) => {
      await sql`lock table leads in exclusive mode`.execute(trx);
      locked();
      await new Promise((resolve) => setTimeout(resolve, HOLD_MS));
    });
    await lockHeld;
    const recordedBefore = await recordHistogram();

    const answer = await exchange.call('POST', '/v1/leads', { token: affiliateKey, body: sampleLead() });
    const answeredAt = Date.now();
    await holder;

    expect(answer.body).toMatchObject({ status: 'sold' });
    let lead: any;
    await waitFor(async () => {
      lead = await exchange.admin.lead(answer.body.lead_id);
      return lead.timeline.some((e: any) => e.type === 'lead.sold');
    }, 2000, 'the lead.sold event');
    const at = (type: string) => Date.parse(lead.timeline.find((e: any) => e.type === type).at);
    expect(at('sale.recorded') - at('post.accepted')).toBeGreaterThanOrEqual(HOLD_MS - 100);
    expect(at('lead.sold')).toBeGreaterThanOrEqual(at('sale.recorded'));
    expect(at('lead.sold')).toBeLessThanOrEqual(answeredAt);
    // /metrics shows the wait too, apart from the auction's own time.
    const recordedAfter = await recordHistogram();
    expect(recordedAfter.count - recordedBefore.count).toBe(1);
    expect(recordedAfter.sum - recordedBefore.sum).toBeGreaterThanOrEqual((HOLD_MS - 100) / 1000);
  });

  it('shares a lead among up to max_shared distinct buyers when their sum beats the best exclusive bid', async () => {
    const exclusive = await biddingCampaign(30);
    const shared = await Promise.all([12, 11, 10, 9].map((bid) => biddingCampaign(bid, { mode: 'shared' })));
    await exchange.admin.activateOnly([exclusive.campaign.id, ...shared.map((s) => s.campaign.id)]);

    const answer = await exchange.call('POST', '/v1/leads', { token: affiliateKey, body: sampleLead() });

    expect(answer.body).toMatchObject({ status: 'sold', mode: 'shared', buyers: 3 });
    expect(answer.body.payout).toBeCloseTo((12 + 11 + 10) * 0.8, 2);
    expect(shared.map((s) => s.server.received.posts.length)).toEqual([1, 1, 1, 0]);
    expect(exclusive.server.received.posts).toHaveLength(0);
  });

  it('goes exclusive when the exclusive bid is at least the shared sum', async () => {
    const exclusive = await biddingCampaign(33);
    const shared = await Promise.all([12, 11, 10].map((bid) => biddingCampaign(bid, { mode: 'shared' })));
    await exchange.admin.activateOnly([exclusive.campaign.id, ...shared.map((s) => s.campaign.id)]);

    const answer = await exchange.call('POST', '/v1/leads', { token: affiliateKey, body: sampleLead() });

    expect(answer.body).toMatchObject({ status: 'sold', mode: 'exclusive', buyers: 1 });
    expect(exclusive.server.received.posts).toHaveLength(1);
  });

  it('never lets one buyer take two places of a shared lead', async () => {
    const server = await buyerServer({ ping: bidding(20), post: accepting() });
    const buyer = await exchange.admin.buyer();
    const a = await exchange.admin.campaign({ buyer_id: buyer.id, mode: 'shared', ping_url: server.pingUrl, post_url: server.postUrl });
    const b = await exchange.admin.campaign({ buyer_id: buyer.id, mode: 'shared', ping_url: server.pingUrl, post_url: server.postUrl });
    const other = await biddingCampaign(5, { mode: 'shared' });
    await exchange.admin.activateOnly([a.id, b.id, other.campaign.id]);

    const answer = await exchange.call('POST', '/v1/leads', { token: affiliateKey, body: sampleLead() });

    expect(answer.body).toMatchObject({ status: 'sold', mode: 'shared', buyers: 2 });
    expect(server.received.posts).toHaveLength(1);
    expect(other.server.received.posts).toHaveLength(1);
  });

  it('offers a rejected lead to the next bid and releases the rejecting winner’s reservation', async () => {
    const rejecter = await biddingCampaign(40, { caps: [{ period: 'day', leads: 5 }] }, rejecting('duplicate'));
    const next = await biddingCampaign(25);
    await exchange.admin.activateOnly([rejecter.campaign.id, next.campaign.id]);

    const answer = await exchange.call('POST', '/v1/leads', { token: affiliateKey, body: sampleLead() });

    expect(answer.body).toMatchObject({ status: 'sold', mode: 'exclusive', payout: 20 });
    expect(rejecter.server.received.posts).toHaveLength(1);
    expect(next.server.received.posts).toHaveLength(1);
    const status = await exchange.admin.request('GET', `/campaigns/${rejecter.campaign.id}/status`);
    expect(status.caps).toEqual([expect.objectContaining({ period: 'day', measure: 'leads', used: 0, limit: 5 })]);

    const { timeline } = await exchange.admin.lead(answer.body.lead_id);
    const types = timeline.filter((e: any) => e.campaign_id === rejecter.campaign.id).map((e: any) => e.type);
    expect(types).toEqual(['campaign.pinged', 'reservation.made', 'post.rejected', 'reservation.released']);
  });

  it('counts each campaign’s pings and bids of the day in its status', async () => {
    const bidder = await biddingCampaign(18);
    const silentServer = await buyerServer({ ping: noBid(), post: accepting() });
    const silent = await exchange.admin.campaign({ buyer_id: (await exchange.admin.buyer()).id, ping_url: silentServer.pingUrl, post_url: silentServer.postUrl });
    await exchange.admin.activateOnly([bidder.campaign.id, silent.id]);

    for (let i = 0; i < 3; i++) expect((await exchange.call('POST', '/v1/leads', { token: affiliateKey, body: sampleLead() })).body.status).toBe('sold');

    const today = async (id: string) => (await exchange.admin.request('GET', `/campaigns/${id}/status`)).today;
    await waitFor(async () => (await today(silent.id)).pings === 3, 5000, 'the counts to be written');
    expect(await today(bidder.campaign.id)).toMatchObject({ pings: 3, bids: 3, sales: 3, spend: 54 });
    expect(await today(silent.id)).toMatchObject({ pings: 3, bids: 0, sales: 0, spend: 0 });
  });

  it('prices fixed-price campaigns without pinging them', async () => {
    const server = await buyerServer({ post: accepting() });
    const buyer = await exchange.admin.buyer();
    const fixed = await exchange.admin.campaign({ buyer_id: buyer.id, pricing: { type: 'fixed', price: 12 }, post_url: server.postUrl });
    await exchange.admin.activateOnly([fixed.id]);

    const answer = await exchange.call('POST', '/v1/leads', { token: affiliateKey, body: sampleLead() });

    expect(answer.body).toMatchObject({ status: 'sold', payout: 9.6 });
    expect(server.received.pings).toHaveLength(0);
    expect(server.received.posts).toHaveLength(1);
  });

  it('does not sell below the affiliate’s min_payout', async () => {
    const only = await biddingCampaign(10);
    await exchange.admin.activateOnly([only.campaign.id]);

    const answer = await exchange.call('POST', '/v1/leads', { token: affiliateKey, body: sampleLead({ min_payout: 9 }) });

    expect(answer.body).toMatchObject({ status: 'unsold', buyers: 0, payout: 0, reasons: ['below_min_payout'] });
    expect(only.server.received.posts).toHaveLength(0);
  });

  it('stores an unsold lead too', async () => {
    await exchange.admin.activateOnly([]);
    const answer = await exchange.call('POST', '/v1/leads', { token: affiliateKey, body: sampleLead() });
    expect(answer.body).toMatchObject({ status: 'unsold', buyers: 0, mode: null });
    expect((await exchange.admin.lead(answer.body.lead_id)).lead.status).toBe('unsold');
  });
});
