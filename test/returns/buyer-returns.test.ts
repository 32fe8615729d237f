// Section 7, the buyer's side: a buyer returns a lead it bought, within the return window,
// once; nobody else can return it or see the return.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accepting, bidding, startBuyerServer, type BuyerServer } from '../support/buyer-server.ts';
import { ADMIN_TOKEN, startExchange, type TestExchange } from '../support/exchange.ts';
import { backdateSale, returnLead, scenario } from './world.ts';

let exchange: TestExchange;
const servers: BuyerServer[] = [];

beforeAll(async () => {
  exchange = await startExchange({ label: 'buyer_returns' });
});

afterAll(async () => {
  await exchange?.close();
  await Promise.all(servers.map((s) => s.close()));
});

describe('a buyer returning a lead', () => {
  it('gets a pending return for a lead it bought, and can read it back', async () => {
    const world = await scenario(exchange, servers, { bid: 20 });
    const { leadId, saleId } = await world.sell();

    const answer = await returnLead(exchange, world.buyer, leadId, 'invalid_contact', 'phone number disconnected');

    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({
      lead_id: leadId,
      sale_id: saleId,
      campaign_id: world.campaignId,
      status: 'pending',
      reason: 'invalid_contact',
      detail: 'phone number disconnected',
      price: 20,
      decided_at: null,
      proof: null,
    });
    expect(answer.body.id).toMatch(/^rt_/);
    // The buyer's view keeps the affiliate's side to itself.
    expect(answer.body).not.toHaveProperty('affiliate_id');
    expect(answer.body).not.toHaveProperty('payout');

    const read = await exchange.call('GET', `/v1/returns/${answer.body.id}`, { token: world.buyer.api_key });
    expect(read.status).toBe(200);
    expect(read.body).toEqual(answer.body);
    const mine = await exchange.call('GET', '/v1/returns?status=pending', { token: world.buyer.api_key });
    expect(mine.body.items.map((r: any) => r.id)).toEqual([answer.body.id]);
  });

  it('puts the request on the lead timeline', async () => {
    const world = await scenario(exchange, servers);
    const { leadId } = await world.sell();
    const returned = await returnLead(exchange, world.buyer, leadId, 'fraud');

    const { timeline } = await exchange.admin.lead(leadId);

    expect(timeline).toContainEqual(
      expect.objectContaining({ type: 'return.requested', campaign_id: world.campaignId, return_id: returned.body.id, buyer_id: world.buyer.id, reason: 'fraud' }),
    );
  });

  it('refuses a second return of the same sale with 409', async () => {
    const world = await scenario(exchange, servers);
    const { leadId } = await world.sell();
    expect((await returnLead(exchange, world.buyer, leadId)).status).toBe(201);

    const again = await returnLead(exchange, world.buyer, leadId, 'duplicate');

    expect(again.status).toBe(409);
    expect(again.headers.get('content-type')).toContain('application/problem+json');
    const rows = await exchange.database.db.selectFrom('returns').select('id').where('lead_id', '=', leadId).execute();
    expect(rows).toHaveLength(1);
  });

  it('lets only one of two simultaneous returns of a sale through', async () => {
    const world = await scenario(exchange, servers);
    const { leadId } = await world.sell();

    const answers = await Promise.all([returnLead(exchange, world.buyer, leadId), returnLead(exchange, world.buyer, leadId, 'other')]);

    expect(answers.map((a) => a.status).sort()).toEqual([201, 409]);
  });

  it("answers 404 to a buyer returning a lead it did not buy, and hides another buyer's return", async () => {
    const world = await scenario(exchange, servers);
    const { leadId } = await world.sell();
    const stranger = await exchange.admin.buyer({ name: 'Stranger' });

    const attempt = await returnLead(exchange, stranger, leadId);

    expect(attempt.status).toBe(404);
    expect(attempt.body).toMatchObject({ status: 404, title: 'Not found' });
    const owned = await returnLead(exchange, world.buyer, leadId);
    expect((await exchange.call('GET', `/v1/returns/${owned.body.id}`, { token: stranger.api_key })).status).toBe(404);
    expect((await exchange.call('GET', '/v1/returns', { token: stranger.api_key })).body.items).toEqual([]);
    expect((await returnLead(exchange, world.buyer, 'ld_does_not_exist')).status).toBe(404);
  });

  it('answers 401 without buyer credentials', async () => {
    const world = await scenario(exchange, servers);
    const { leadId } = await world.sell();
    const body = { lead_id: leadId, reason: 'other' };

    const anonymous = await exchange.call('POST', '/v1/returns', { body });
    const asAffiliate = await exchange.call('POST', '/v1/returns', { token: world.affiliate.api_key, body });
    const asOperator = await exchange.call('POST', '/v1/returns', { token: ADMIN_TOKEN, body });
    const wrongKey = await exchange.call('POST', '/v1/returns', { token: 'lxb_not-a-key', body });

    for (const answer of [anonymous, asAffiliate, asOperator, wrongKey]) {
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toBe('Bearer');
    }
    expect((await exchange.call('GET', '/v1/returns')).status).toBe(401);
    const rows = await exchange.database.db.selectFrom('returns').select('id').where('lead_id', '=', leadId).execute();
    expect(rows).toEqual([]);
  });

  it('refuses a return after the window (7 days by default) with 422, and takes one just inside it', async () => {
    const world = await scenario(exchange, servers);
    const old = await world.sell();
    const recent = await world.sell();
    await backdateSale(exchange, old.saleId, 8);
    await backdateSale(exchange, recent.saleId, 6);

    const late = await returnLead(exchange, world.buyer, old.leadId);
    const inTime = await returnLead(exchange, world.buyer, recent.leadId);

    expect(late.status).toBe(422);
    expect(late.body.detail).toMatch(/return window .* closed at/);
    expect(late.body.errors).toEqual([{ path: 'lead_id', message: 'sold more than 7 days ago' }]);
    expect(inTime.status).toBe(201);
  });

  it('lists every problem with a bad body as a 400', async () => {
    const world = await scenario(exchange, servers);

    const answer = await exchange.call('POST', '/v1/returns', { token: world.buyer.api_key, body: { reason: 'changed_my_mind', detail: 7, extra: true } });

    expect(answer.status).toBe(400);
    expect(answer.headers.get('content-type')).toContain('application/problem+json');
    expect(answer.body.errors.map((e: any) => e.path).sort()).toEqual(['detail', 'extra', 'lead_id', 'reason']);
    expect(answer.body.errors.find((e: any) => e.path === 'reason').message).toBe('must be one of duplicate, invalid_contact, fraud, other');
    const notJson = await exchange.call('POST', '/v1/returns', { token: world.buyer.api_key, raw: 'lead_id=1', headers: { 'content-type': 'text/plain' } });
    expect(notJson.status).toBe(415);
  });

  it('returns only the returning buyer’s own sale of a shared lead', async () => {
    const world = await scenario(exchange, servers, { bid: 9, campaign: { mode: 'shared' } });
    const other = await exchange.admin.buyer({ name: 'Other sharer' });
    const otherServer = await startBuyerServer({ ping: bidding(7), post: accepting() });
    servers.push(otherServer);
    await exchange.admin.campaign({ buyer_id: other.id, vertical: world.vertical, mode: 'shared', ping_url: otherServer.pingUrl, post_url: otherServer.postUrl });
    const { leadId } = await world.sell();
    const sales = await exchange.database.db.selectFrom('sales').select(['id', 'buyer_id']).where('lead_id', '=', leadId).execute();
    expect(sales).toHaveLength(2);

    const mine = await returnLead(exchange, world.buyer, leadId);
    const theirs = await returnLead(exchange, other, leadId);

    expect(mine.body).toMatchObject({ sale_id: sales.find((s) => s.buyer_id === world.buyer.id)!.id, price: 9 });
    expect(theirs.body).toMatchObject({ sale_id: sales.find((s) => s.buyer_id === other.id)!.id, price: 7 });
  });
});
