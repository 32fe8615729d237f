// Section 6: the operator's API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySignature } from '../../src/buyers/signing.ts';
import { hashApiKey } from '../../src/catalog/api-keys.ts';
import { accepting, bidding, startBuyerServer, type BuyerServer } from '../support/buyer-server.ts';
import { ADMIN_TOKEN, sampleLead, startExchange, type TestExchange } from '../support/exchange.ts';

let exchange: TestExchange;
let server: BuyerServer;

beforeAll(async () => {
  exchange = await startExchange({ label: 'admin' });
  await exchange.admin.vertical();
  server = await startBuyerServer({ ping: bidding(12), post: accepting() });
});

afterAll(async () => {
  await exchange?.close();
  await server?.close();
});

describe('the admin API', () => {
  it('needs the operator token', async () => {
    expect((await exchange.call('GET', '/v1/admin/verticals')).status).toBe(401);
    expect((await exchange.call('GET', '/v1/admin/verticals', { token: 'nope' })).status).toBe(401);
    expect((await exchange.call('GET', '/v1/admin/verticals', { token: ADMIN_TOKEN })).status).toBe(200);
  });

  it('returns API keys once and keeps only their hashes', async () => {
    const created = await exchange.admin.affiliate({ name: 'Once' });
    expect(created.api_key).toMatch(/^lxa_/);
    const fetched = await exchange.admin.request('GET', `/affiliates/${created.id}`);
    expect(fetched).not.toHaveProperty('api_key');
    expect(fetched).toMatchObject({ id: created.id, name: 'Once', status: 'active' });
    const row = await exchange.database.db.selectFrom('affiliates').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow();
    expect(JSON.stringify(row)).not.toContain(created.api_key);

    const buyer = await exchange.admin.buyer({ balance: 250.5 });
    expect(buyer.api_key).toMatch(/^lxb_/);
    expect(await exchange.admin.request('GET', `/buyers/${buyer.id}`)).toEqual({ id: buyer.id, name: 'Buyer', balance: 250.5, credit_limit: 0, status: 'active' });
  });

  it('refuses a duplicate vertical with 409 and patches one', async () => {
    const again = await exchange.call('POST', '/v1/admin/verticals', { token: ADMIN_TOKEN, body: { key: 'auto_insurance', fields: [] } });
    expect(again.status).toBe(409);
    const patched = await exchange.admin.request('PATCH', '/verticals/auto_insurance', { max_shared: 2 });
    expect(patched.max_shared).toBe(2);
    await exchange.admin.request('PATCH', '/verticals/auto_insurance', { max_shared: 3 });
  });

  it('validates campaigns against what exists', async () => {
    const answer = await exchange.call('POST', '/v1/admin/campaigns', {
      token: ADMIN_TOKEN,
      body: {
        buyer_id: 'by_missing', name: 'x', vertical: 'auto_insurance', mode: 'exclusive', pricing: { type: 'bid' },
        ping_url: server.pingUrl, post_url: server.postUrl,
        filters: { all: [{ field: 'shoe_size', op: 'eq', value: 9 }] },
      },
    });
    expect(answer.status).toBe(400);
    expect(answer.body.errors.map((e: any) => e.path).sort()).toEqual(['buyer_id', 'filters']);

    const buyer = await exchange.admin.buyer();
    const noPingUrl = await exchange.call('POST', '/v1/admin/campaigns', {
      token: ADMIN_TOKEN,
      body: { buyer_id: buyer.id, name: 'x', vertical: 'auto_insurance', mode: 'exclusive', pricing: { type: 'bid' }, post_url: server.postUrl },
    });
    expect(noPingUrl.status).toBe(400);
    expect(noPingUrl.body.errors.map((e: any) => e.path)).toContain('ping_url');

    const fixed = await exchange.admin.campaign({ buyer_id: buyer.id, pricing: { type: 'fixed', price: 5 }, post_url: server.postUrl });
    const toBid = await exchange.call('PATCH', `/v1/admin/campaigns/${fixed.id}`, { token: ADMIN_TOKEN, body: { pricing: { type: 'bid' } } });
    expect(toBid.status).toBe(400);
    await exchange.admin.request('DELETE', `/campaigns/${fixed.id}`);
  });

  it('accepts what another node created a moment ago, before this node has heard of it', async () => {
    // Nodes hear of each other's changes within about a second. An operator's script that
    // creates a buyer through one node and its campaign through the next must not be refused in
    // between: the database, not this node's memory, says what exists. Here the rows are written
    // as another node writes them, and nothing tells this node.
    const { repository } = exchange.runtime.deps;
    const buyerId = `by_elsewhere_${Date.now()}`;
    await repository.insertBuyer({ id: buyerId, name: 'Elsewhere', balance: null, credit_limit: 0, status: 'active' }, hashApiKey(`lxb_elsewhere_${buyerId}`));
    await repository.insertVertical({ key: 'solar_elsewhere', fields: [{ name: 'zip', type: 'string', required: true }], max_shared: 1, exclusive_days: 0, duplicate_days: 0 });

    const created = await exchange.call('POST', '/v1/admin/campaigns', {
      token: ADMIN_TOKEN,
      body: {
        buyer_id: buyerId, name: 'x', vertical: 'solar_elsewhere', mode: 'exclusive', pricing: { type: 'bid' },
        ping_url: server.pingUrl, post_url: server.postUrl, filters: { all: [{ field: 'zip', op: 'prefix', value: '9' }] },
      },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ buyer_id: buyerId, vertical: 'solar_elsewhere' });

    // And a campaign created elsewhere has its status here at once.
    const campaignId = `cp_elsewhere_${Date.now()}`;
    await repository.insertCampaign({ ...created.body, id: campaignId, signing_secret: 'lxs_elsewhere' });
    const status = await exchange.call('GET', `/v1/admin/campaigns/${campaignId}/status`, { token: ADMIN_TOKEN });
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ campaign_id: campaignId });

    // What exists nowhere is still refused.
    const missing = await exchange.call('POST', '/v1/admin/campaigns', {
      token: ADMIN_TOKEN,
      body: { buyer_id: 'by_nowhere', name: 'x', vertical: 'solar_elsewhere', mode: 'exclusive', pricing: { type: 'bid' }, ping_url: server.pingUrl, post_url: server.postUrl },
    });
    expect(missing.status).toBe(400);
    expect(missing.body.errors.map((e: any) => e.path)).toEqual(['buyer_id']);
    expect((await exchange.call('GET', '/v1/admin/campaigns/cp_nowhere/status', { token: ADMIN_TOKEN })).status).toBe(404);
    await exchange.admin.request('DELETE', `/campaigns/${created.body.id}`);
    await exchange.admin.request('DELETE', `/campaigns/${campaignId}`);
  });

  it('shows the signing secret once, and every outbound request is signed with it', async () => {
    const affiliate = await exchange.admin.affiliate();
    const buyer = await exchange.admin.buyer();
    const campaign = await exchange.admin.campaign({ buyer_id: buyer.id, ping_url: server.pingUrl, post_url: server.postUrl, headers: { 'x-api-key': 'k-123' } });
    expect(campaign.signing_secret).toMatch(/^lxs_/);
    expect(await exchange.admin.request('GET', `/campaigns/${campaign.id}`)).not.toHaveProperty('signing_secret');

    const answer = await exchange.call('POST', '/v1/leads', { token: affiliate.api_key, body: sampleLead() });
    expect(answer.body.status).toBe('sold');
    for (const request of [server.received.pings.at(-1)!, server.received.posts.at(-1)!]) {
      expect(request.headers['x-api-key']).toBe('k-123');
      const timestamp = String(request.headers['x-leadex-timestamp']);
      const signature = String(request.headers['x-leadex-signature']);
      expect(verifySignature(campaign.signing_secret, timestamp, request.rawBody, signature)).toBe(true);
      expect(verifySignature('lxs_wrong', timestamp, request.rawBody, signature)).toBe(false);
    }
  });

  it('deleted campaigns are gone and never pinged', async () => {
    const affiliate = await exchange.admin.affiliate();
    const list = await exchange.admin.request('GET', '/campaigns?limit=100');
    for (const c of list.items) await exchange.admin.request('DELETE', `/campaigns/${c.id}`);
    expect((await exchange.admin.request('GET', '/campaigns')).items).toEqual([]);
    expect((await exchange.call('GET', `/v1/admin/campaigns/${list.items[0].id}`, { token: ADMIN_TOKEN })).status).toBe(404);
    const pings = server.received.pings.length;
    expect((await exchange.call('POST', '/v1/leads', { token: affiliate.api_key, body: sampleLead() })).body.status).toBe('unsold');
    expect(server.received.pings).toHaveLength(pings);
  });

  it('pages through lists with a cursor', async () => {
    for (let i = 0; i < 5; i++) await exchange.admin.buyer({ name: `Paged ${i}` });
    const first = await exchange.admin.request('GET', '/buyers?limit=2');
    expect(first.items).toHaveLength(2);
    const second = await exchange.admin.request('GET', `/buyers?limit=2&after=${first.next}`);
    expect(second.items[0].id > first.items[1].id).toBe(true);
    expect((await exchange.call('GET', '/v1/admin/buyers?limit=1000', { token: ADMIN_TOKEN })).status).toBe(400);
  });

  it('shows a lead masked, or revealed on request, with its timeline to the millisecond', async () => {
    const affiliate = await exchange.admin.affiliate();
    const buyer = await exchange.admin.buyer();
    const campaign = await exchange.admin.campaign({ buyer_id: buyer.id, ping_url: server.pingUrl, post_url: server.postUrl });
    const lead = sampleLead();
    const answer = await exchange.call('POST', '/v1/leads', { token: affiliate.api_key, body: lead });

    const masked = await exchange.admin.lead(answer.body.lead_id);
    expect(JSON.stringify(masked)).not.toContain(lead.contact.email);
    expect(JSON.stringify(masked)).not.toContain(lead.contact.phone);
    expect(JSON.stringify(masked)).not.toContain(lead.consent.ip);
    expect(masked.lead.contact.email).toMatch(/^a\*\*\*@example\.com$/);

    const revealed = await exchange.admin.lead(answer.body.lead_id, true);
    expect(revealed.lead.contact.email).toBe(lead.contact.email);

    const types = masked.timeline.map((e: any) => e.type);
    expect(types).toEqual(['lead.received', 'campaign.pinged', 'auction.choice', 'reservation.made', 'post.accepted', 'sale.recorded', 'lead.sold']);
    for (const event of masked.timeline) expect(event.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(masked.timeline.find((e: any) => e.type === 'campaign.pinged')).toMatchObject({ campaign_id: campaign.id, outcome: 'bid', bid: 12, latency_ms: expect.any(Number) });
    expect(masked.sales).toEqual([expect.objectContaining({ campaign_id: campaign.id, price: 12 })]);

    expect((await exchange.call('GET', '/v1/admin/leads/ld_unknown', { token: ADMIN_TOKEN })).status).toBe(404);
  });
});
