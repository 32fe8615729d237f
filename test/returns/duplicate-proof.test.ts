// Section 7: a duplicate the exchange can prove from its own records is approved at once, with
// the money moved in the same step; a claim it cannot prove waits for the operator.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuyerServer } from '../support/buyer-server.ts';
import { ADMIN_TOKEN, sampleLead, startExchange, type TestExchange } from '../support/exchange.ts';
import { balanceOf, copyLead, copySale, ledgerOf, returnLead, scenario } from './world.ts';

let exchange: TestExchange;
const servers: BuyerServer[] = [];

beforeAll(async () => {
  exchange = await startExchange({ label: 'return_duplicates' });
});

afterAll(async () => {
  await exchange?.close();
  await Promise.all(servers.map((s) => s.close()));
});

const cents = (dollars: number): number => Math.round(dollars * 100);
const freshId = (prefix: string): string => `${prefix}_test${randomBytes(6).toString('hex')}`;

describe('a duplicate return', () => {
  it('is approved at once when the buyer bought the same consumer earlier, through another of its campaigns', async () => {
    const world = await scenario(exchange, servers, { bid: 20 });
    const consumer = sampleLead();
    const first = await world.sell(consumer);
    // The buyer's second campaign takes repeats (dedupe_days 0), and a second affiliate sends the
    // same consumer: nothing stops this sale, but the vertical's 30-day window still covers it.
    await exchange.admin.request('PATCH', `/campaigns/${world.campaignId}`, { status: 'paused' });
    await exchange.admin.campaign({ buyer_id: world.buyer.id, vertical: world.vertical, dedupe_days: 0, ping_url: world.server.pingUrl, post_url: world.server.postUrl });
    const secondAffiliate = await exchange.admin.affiliate({ name: 'Second source' });
    const second = await world.sell(consumer, secondAffiliate);
    const before = await balanceOf(exchange, world.buyer.id);

    const answer = await returnLead(exchange, world.buyer, second.leadId, 'duplicate');

    expect(answer.status).toBe(201);
    expect(answer.body).toMatchObject({
      status: 'approved',
      decided_by: 'exchange',
      proof: { rule: 'earlier_purchase', sale_id: first.saleId, lead_id: first.leadId, window_days: 30 },
    });
    expect(answer.body.decided_at).toBe(answer.body.created_at);
    expect(cents(await balanceOf(exchange, world.buyer.id)) - cents(before)).toBe(2000);
    expect(await ledgerOf(exchange, 'affiliate', secondAffiliate.id)).toEqual([
      expect.objectContaining({ kind: 'payout', amount: 16, sale_id: second.saleId }),
      expect.objectContaining({ kind: 'payout_clawback', amount: -16, sale_id: second.saleId, return_id: answer.body.id }),
    ]);
    const { timeline } = await exchange.admin.lead(second.leadId);
    expect(timeline.filter((e: any) => e.type.startsWith('return.'))).toEqual([
      expect.objectContaining({ type: 'return.requested', reason: 'duplicate' }),
      expect.objectContaining({ type: 'return.approved', decided_by: 'exchange', proof: expect.objectContaining({ rule: 'earlier_purchase', sale_id: first.saleId }) }),
    ]);
    // Decided is decided: the operator cannot approve it a second time.
    expect((await exchange.call('POST', `/v1/admin/returns/${answer.body.id}/approve`, { token: ADMIN_TOKEN })).status).toBe(409);
  });

  it('is approved at once when the same affiliate sent the same consumer earlier in the duplicate window', async () => {
    const world = await scenario(exchange, servers, { bid: 20 });
    const { leadId } = await world.sell();
    const earlierId = freshId('ld');
    await copyLead(exchange, leadId, { id: earlierId, daysAgo: 3 });

    const answer = await returnLead(exchange, world.buyer, leadId, 'duplicate');

    expect(answer.body).toMatchObject({ status: 'approved', decided_by: 'exchange', proof: { rule: 'earlier_lead_from_affiliate', window_days: 30 } });
    // That earlier lead may have gone to another buyer: the buyer learns when, not which.
    expect(answer.body.proof).not.toHaveProperty('lead_id');
    const operatorView = await exchange.admin.request('GET', `/returns/${answer.body.id}`);
    expect(operatorView.proof).toMatchObject({ rule: 'earlier_lead_from_affiliate', lead_id: earlierId });
  });

  it('waits for the operator when no record proves it', async () => {
    const world = await scenario(exchange, servers);
    const { leadId } = await world.sell();
    const before = await balanceOf(exchange, world.buyer.id);

    const answer = await returnLead(exchange, world.buyer, leadId, 'duplicate');

    expect(answer.body).toMatchObject({ status: 'pending', decided_by: null, proof: null });
    expect(await balanceOf(exchange, world.buyer.id)).toBe(before);
  });

  it('waits for the operator when the earlier records are older than their windows', async () => {
    const world = await scenario(exchange, servers);
    const { leadId, saleId } = await world.sell();
    const earlierLead = freshId('ld');
    await copyLead(exchange, leadId, { id: earlierLead, daysAgo: 31 });
    await copySale(exchange, saleId, { id: freshId('sl'), leadId: earlierLead, daysAgo: 31 });

    const answer = await returnLead(exchange, world.buyer, leadId, 'duplicate');

    expect(answer.body).toMatchObject({ status: 'pending', proof: null });
  });

  it("looks back as far as the campaign's dedupe_days when they reach beyond the vertical's window", async () => {
    const world = await scenario(exchange, servers, { campaign: { dedupe_days: 60 } });
    const { leadId, saleId } = await world.sell();
    const elsewhere = await exchange.admin.affiliate({ name: 'Elsewhere' });
    const earlierLead = freshId('ld');
    const earlierSale = freshId('sl');
    await copyLead(exchange, leadId, { id: earlierLead, daysAgo: 45, affiliateId: elsewhere.id });
    await copySale(exchange, saleId, { id: earlierSale, leadId: earlierLead, daysAgo: 45, affiliateId: elsewhere.id });

    const answer = await returnLead(exchange, world.buyer, leadId, 'duplicate');

    expect(answer.body).toMatchObject({ status: 'approved', proof: { rule: 'earlier_purchase', sale_id: earlierSale, window_days: 60 } });
  });

  it('is not proved by an earlier purchase the buyer already got its money back for', async () => {
    const world = await scenario(exchange, servers);
    const { leadId, saleId } = await world.sell();
    const elsewhere = await exchange.admin.affiliate({ name: 'Elsewhere' });
    const earlierLead = freshId('ld');
    await copyLead(exchange, leadId, { id: earlierLead, daysAgo: 2, affiliateId: elsewhere.id });
    await copySale(exchange, saleId, { id: freshId('sl'), leadId: earlierLead, daysAgo: 2, affiliateId: elsewhere.id });
    const earlierReturn = await returnLead(exchange, world.buyer, earlierLead, 'other');
    expect((await exchange.call('POST', `/v1/admin/returns/${earlierReturn.body.id}/approve`, { token: ADMIN_TOKEN })).status).toBe(200);

    const answer = await returnLead(exchange, world.buyer, leadId, 'duplicate');

    expect(answer.body).toMatchObject({ status: 'pending', proof: null });
  });

  it('is only decided by the exchange when the buyer claims a duplicate', async () => {
    const world = await scenario(exchange, servers);
    const { leadId } = await world.sell();
    await copyLead(exchange, leadId, { id: freshId('ld'), daysAgo: 1 });

    const answer = await returnLead(exchange, world.buyer, leadId, 'invalid_contact');

    expect(answer.body).toMatchObject({ status: 'pending', proof: null });
  });
});
