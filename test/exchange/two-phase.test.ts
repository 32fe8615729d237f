// Section 3.2: ping, hold, post — and what happens to holds that are never posted.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { accepting, bidding, rejecting, startBuyerServer, type BuyerServer } from '../support/buyer-server.ts';
import { sampleLead, startExchange, type TestExchange } from '../support/exchange.ts';
import { contactHashes, normalizeEmail, normalizePhone } from '../../src/lead/contact.ts';

let exchange: TestExchange;
let affiliateKey: string;
let otherAffiliateKey: string;
let best: { server: BuyerServer; campaign: { id: string } };
let second: { server: BuyerServer; campaign: { id: string } };
const servers: BuyerServer[] = [];

async function campaign(amount: number, post = accepting()) {
  const server = await startBuyerServer({ ping: bidding(amount), post });
  servers.push(server);
  const buyer = await exchange.admin.buyer();
  const created = await exchange.admin.campaign({
    buyer_id: buyer.id,
    ping_url: server.pingUrl,
    post_url: server.postUrl,
    caps: [{ period: 'day', leads: 1000 }],
  });
  return { server, campaign: created };
}

async function usedToday(campaignId: string): Promise<number> {
  const status = await exchange.admin.request('GET', `/campaigns/${campaignId}/status`);
  return status.caps[0].used;
}

beforeAll(async () => {
  exchange = await startExchange({ label: 'twophase', settings: { holdTtlMs: 1000 } });
  await exchange.admin.vertical();
  affiliateKey = (await exchange.admin.affiliate({ payout: { type: 'fixed', amount: 7.5 } })).api_key;
  otherAffiliateKey = (await exchange.admin.affiliate()).api_key;
  best = await campaign(30);
  second = await campaign(20);
});

beforeEach(() => {
  best.server.behaviour.post = accepting();
});

afterAll(async () => {
  await exchange?.close();
  await Promise.all(servers.map((s) => s.close()));
});

async function leadIdOfPing(pingId: string): Promise<string> {
  await exchange.runtime.deps.audit.flush();
  const row = await exchange.database.db.selectFrom('pings').select('lead_id').where('id', '=', pingId).executeTakeFirstOrThrow();
  return row.lead_id;
}

function pingOf(lead: Record<string, any>, extra: Record<string, unknown> = {}) {
  return { vertical: lead.vertical, data: lead.data, ...extra };
}

describe('two-phase ping and post', () => {
  it('holds the winning bid at ping time and sells at post time', async () => {
    const lead = sampleLead();
    const ping = await exchange.call('POST', '/v1/ping', { token: affiliateKey, body: pingOf(lead) });
    expect(ping.status).toBe(200);
    expect(ping.body).toMatchObject({ status: 'bid', payout: 7.5, mode: 'exclusive' });
    expect(Date.parse(ping.body.expires_at) - Date.now()).toBeGreaterThan(500);
    expect(await usedToday(best.campaign.id)).toBe(1);
    expect(best.server.received.posts).toHaveLength(0);

    const post = await exchange.call('POST', '/v1/post', {
      token: affiliateKey,
      body: { ping_id: ping.body.ping_id, contact: lead.contact, consent: lead.consent, data: lead.data },
    });

    expect(post.status).toBe(200);
    expect(post.body).toMatchObject({ status: 'sold', mode: 'exclusive', payout: 7.5, buyers: 1 });
    expect(best.server.received.posts.at(-1)!.json).toMatchObject({ ping_id: ping.body.ping_id, price: 30 });
    expect(await usedToday(best.campaign.id)).toBe(1);
  });

  it('refuses a second post of the same ping with 409', async () => {
    const lead = sampleLead();
    const ping = await exchange.call('POST', '/v1/ping', { token: affiliateKey, body: pingOf(lead) });
    const body = { ping_id: ping.body.ping_id, contact: lead.contact, consent: lead.consent };
    expect((await exchange.call('POST', '/v1/post', { token: affiliateKey, body })).status).toBe(200);
    const again = await exchange.call('POST', '/v1/post', { token: affiliateKey, body });
    expect(again.status).toBe(409);
    expect(again.headers.get('content-type')).toContain('application/problem+json');
  });

  it('answers 404 for an unknown ping and for another affiliate’s ping', async () => {
    const lead = sampleLead();
    const unknown = await exchange.call('POST', '/v1/post', { token: affiliateKey, body: { ping_id: 'pg_nope', contact: lead.contact, consent: lead.consent } });
    expect(unknown.status).toBe(404);
    const ping = await exchange.call('POST', '/v1/ping', { token: affiliateKey, body: pingOf(lead) });
    const stolen = await exchange.call('POST', '/v1/post', { token: otherAffiliateKey, body: { ping_id: ping.body.ping_id, contact: lead.contact, consent: lead.consent } });
    expect(stolen.status).toBe(404);
  });

  it('answers 409 when the posted data or contact differ from the ping', async () => {
    const lead = sampleLead();
    const ping = await exchange.call('POST', '/v1/ping', { token: affiliateKey, body: pingOf(lead) });
    const post = await exchange.call('POST', '/v1/post', {
      token: affiliateKey,
      body: { ping_id: ping.body.ping_id, contact: lead.contact, consent: lead.consent, data: { ...lead.data, age: 35 } },
    });
    expect(post.status).toBe(409);
    expect(post.body.errors).toEqual([expect.objectContaining({ path: 'data' })]);

    const hashed = sampleLead();
    const hashes = contactHashes({ email: normalizeEmail(hashed.contact.email), phone: normalizePhone(hashed.contact.phone) });
    const ping2 = await exchange.call('POST', '/v1/ping', { token: affiliateKey, body: pingOf(hashed, { contact_hashes: hashes }) });
    const other = sampleLead();
    const post2 = await exchange.call('POST', '/v1/post', {
      token: affiliateKey,
      body: { ping_id: ping2.body.ping_id, contact: { ...hashed.contact, email: other.contact.email }, consent: hashed.consent },
    });
    expect(post2.status).toBe(409);
    expect(post2.body.errors).toEqual([expect.objectContaining({ path: 'contact.email' })]);
  });

  it('answers 410 for an expired hold and gives its reservation back', async () => {
    // Let the holds of earlier tests run out first, so only this one moves the counter.
    await new Promise((resolve) => setTimeout(resolve, 1300));
    const before = await usedToday(best.campaign.id);
    const lead = sampleLead();
    const ping = await exchange.call('POST', '/v1/ping', { token: affiliateKey, body: pingOf(lead) });
    expect(await usedToday(best.campaign.id)).toBe(before + 1);

    await new Promise((resolve) => setTimeout(resolve, 1300));
    const post = await exchange.call('POST', '/v1/post', { token: affiliateKey, body: { ping_id: ping.body.ping_id, contact: lead.contact, consent: lead.consent } });

    expect(post.status).toBe(410);
    expect(post.body).toMatchObject({ status: 410, title: 'Gone' });
    expect(await usedToday(best.campaign.id)).toBe(before);
    const { timeline } = await exchange.admin.lead(ping.body.lead_id ?? (await leadIdOfPing(ping.body.ping_id)));
    expect(timeline.map((e: any) => e.type)).toContain('hold.expired');
  });

  it('releases the reservations of a hold nobody posts, by itself', async () => {
    const before = await usedToday(best.campaign.id);
    await exchange.call('POST', '/v1/ping', { token: affiliateKey, body: pingOf(sampleLead()) });
    expect(await usedToday(best.campaign.id)).toBe(before + 1);
    // Hold TTL is 1 s, the sweeper runs every 100 ms.
    await new Promise((resolve) => setTimeout(resolve, 1400));
    expect(await usedToday(best.campaign.id)).toBe(before);
  });

  it('falls back to the next bid when the held winner rejects the post', async () => {
    best.server.behaviour.post = rejecting('duplicate');
    const lead = sampleLead();
    const ping = await exchange.call('POST', '/v1/ping', { token: affiliateKey, body: pingOf(lead) });
    const bestBefore = await usedToday(best.campaign.id);
    const secondBefore = await usedToday(second.campaign.id);

    const post = await exchange.call('POST', '/v1/post', { token: affiliateKey, body: { ping_id: ping.body.ping_id, contact: lead.contact, consent: lead.consent } });

    expect(post.body).toMatchObject({ status: 'sold', buyers: 1 });
    expect(second.server.received.posts.at(-1)!.json).toMatchObject({ ping_id: ping.body.ping_id, price: 20 });
    expect(await usedToday(best.campaign.id)).toBe(bestBefore - 1);
    expect(await usedToday(second.campaign.id)).toBe(secondBefore + 1);
  });

  it('answers no_bid when nobody bids', async () => {
    const ping = await exchange.call('POST', '/v1/ping', { token: affiliateKey, body: { vertical: 'auto_insurance', data: { state: 'NY', zip: '10001', age: 150 } } });
    // age 150 is a valid integer; both buyers bid regardless of data, so make them stop bidding.
    expect(ping.status).toBe(200);
    best.server.behaviour.ping = () => ({ status: 204 });
    second.server.behaviour.ping = () => ({ status: 204 });
    const none = await exchange.call('POST', '/v1/ping', { token: affiliateKey, body: pingOf(sampleLead()) });
    expect(none.body).toEqual({ ping_id: expect.stringMatching(/^pg_/), status: 'no_bid' });
    best.server.behaviour.ping = bidding(30);
    second.server.behaviour.ping = bidding(20);
  });
});
