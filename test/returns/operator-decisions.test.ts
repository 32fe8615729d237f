// Section 7, the operator's side: pending returns wait for a decision; an approval credits the
// buyer exactly the price and claws the payout back from the affiliate, once; a denial moves
// no money. Every step is on the lead's timeline and in the ledger.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuyerServer } from '../support/buyer-server.ts';
import { ADMIN_TOKEN, startExchange, type TestExchange } from '../support/exchange.ts';
import { balanceOf, ledgerOf, returnLead, scenario } from './world.ts';

let exchange: TestExchange;
const servers: BuyerServer[] = [];

beforeAll(async () => {
  exchange = await startExchange({ label: 'return_decisions' });
});

afterAll(async () => {
  await exchange?.close();
  await Promise.all(servers.map((s) => s.close()));
});

const approve = (id: string, body?: unknown) => exchange.call('POST', `/v1/admin/returns/${id}/approve`, { token: ADMIN_TOKEN, ...(body === undefined ? {} : { body }) });
const cents = (dollars: number): number => Math.round(dollars * 100);
const deny = (id: string, body?: unknown) => exchange.call('POST', `/v1/admin/returns/${id}/deny`, { token: ADMIN_TOKEN, ...(body === undefined ? {} : { body }) });

describe('the operator deciding a return', () => {
  it('approving credits the buyer exactly the price and claws back the affiliate’s payout', async () => {
    // $21.37 at 80% revenue share pays the affiliate $17.09 (rounded down).
    const world = await scenario(exchange, servers, { bid: 21.37, payoutPercent: 80 });
    const { leadId, saleId } = await world.sell();
    const returned = await returnLead(exchange, world.buyer, leadId);
    const before = await balanceOf(exchange, world.buyer.id);

    const answer = await approve(returned.body.id, { note: 'contact bounced' });

    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ id: returned.body.id, status: 'approved', decided_by: 'operator', note: 'contact bounced', price: 21.37, payout: 17.09 });
    expect(answer.body.decided_at).toEqual(expect.any(String));
    expect(cents(await balanceOf(exchange, world.buyer.id)) - cents(before)).toBe(2137);
    expect(await ledgerOf(exchange, 'buyer', world.buyer.id)).toEqual([
      expect.objectContaining({ kind: 'sale', amount: -21.37, sale_id: saleId, return_id: null }),
      expect.objectContaining({ kind: 'return_credit', amount: 21.37, sale_id: saleId, return_id: returned.body.id }),
    ]);
    expect(await ledgerOf(exchange, 'affiliate', world.affiliate.id)).toEqual([
      expect.objectContaining({ kind: 'payout', amount: 17.09, sale_id: saleId, return_id: null }),
      expect.objectContaining({ kind: 'payout_clawback', amount: -17.09, sale_id: saleId, return_id: returned.body.id }),
    ]);
    const buyerView = await exchange.call('GET', `/v1/returns/${returned.body.id}`, { token: world.buyer.api_key });
    expect(buyerView.body).toMatchObject({ status: 'approved', note: 'contact bounced' });
  });

  it('leaves a buyer without a balance unbudgeted, and still records its credit', async () => {
    const world = await scenario(exchange, servers, { bid: 20 });
    await exchange.admin.request('PATCH', `/buyers/${world.buyer.id}`, { balance: null });
    const { leadId } = await world.sell();
    const returned = await returnLead(exchange, world.buyer, leadId);

    expect((await approve(returned.body.id)).status).toBe(200);

    expect(await balanceOf(exchange, world.buyer.id)).toBeNull();
    expect((await ledgerOf(exchange, 'buyer', world.buyer.id)).map((e) => [e.kind, e.amount])).toEqual([['sale', -20], ['return_credit', 20]]);
  });

  it('tells credit listeners (budget tracking) once the credit is committed and the catalog reloaded', async () => {
    const world = await scenario(exchange, servers, { bid: 20 });
    const { leadId, saleId } = await world.sell();
    const returned = await returnLead(exchange, world.buyer, leadId);
    const before = await balanceOf(exchange, world.buyer.id);
    const heard: Array<{ credit: unknown; cataloguedBalance: number | null }> = [];
    const stop = exchange.app.returns.onCredit((credit) => {
      heard.push({ credit, cataloguedBalance: exchange.runtime.deps.catalog.buyer(credit.buyer_id)?.balance ?? null });
    });

    try {
      await approve(returned.body.id);
      await deny((await returnLead(exchange, world.buyer, (await world.sell()).leadId)).body.id);
    } finally {
      stop();
    }

    expect(heard).toEqual([
      { credit: expect.objectContaining({ buyer_id: world.buyer.id, amount_cents: 2000, return_id: returned.body.id, sale_id: saleId }), cataloguedBalance: before + 20 },
    ]);
  });

  it('shows the request and the approval on the lead timeline', async () => {
    const world = await scenario(exchange, servers, { bid: 20 });
    const { leadId, saleId } = await world.sell();
    const returned = await returnLead(exchange, world.buyer, leadId, 'invalid_contact');
    await approve(returned.body.id);

    const { timeline } = await exchange.admin.lead(leadId);

    const returnEvents = timeline.filter((e: any) => e.type.startsWith('return.'));
    expect(returnEvents.map((e: any) => e.type)).toEqual(['return.requested', 'return.approved']);
    expect(returnEvents[1]).toMatchObject({ type: 'return.approved', return_id: returned.body.id, sale_id: saleId, decided_by: 'operator', credit: 20, clawback: 16 });
  });

  it('approving twice is 409 and credits once, even when both approvals race', async () => {
    const world = await scenario(exchange, servers, { bid: 20 });
    const { leadId } = await world.sell();
    const returned = await returnLead(exchange, world.buyer, leadId);
    const before = await balanceOf(exchange, world.buyer.id);

    const racing = await Promise.all([approve(returned.body.id), approve(returned.body.id)]);
    const later = await approve(returned.body.id);

    expect(racing.map((a) => a.status).sort()).toEqual([200, 409]);
    expect(later.status).toBe(409);
    expect(later.body.detail).toBe(`Return ${returned.body.id} was already approved`);
    expect(cents(await balanceOf(exchange, world.buyer.id)) - cents(before)).toBe(2000);
    const credits = (await ledgerOf(exchange, 'buyer', world.buyer.id)).filter((e) => e.kind === 'return_credit');
    expect(credits).toHaveLength(1);
    const { timeline } = await exchange.admin.lead(leadId);
    expect(timeline.filter((e: any) => e.type === 'return.approved')).toHaveLength(1);
  });

  it('denying leaves the money untouched, says so on the timeline, and is final', async () => {
    const world = await scenario(exchange, servers, { bid: 20 });
    const { leadId } = await world.sell();
    const returned = await returnLead(exchange, world.buyer, leadId, 'fraud');
    const balanceBefore = await balanceOf(exchange, world.buyer.id);
    const buyerLedgerBefore = await ledgerOf(exchange, 'buyer', world.buyer.id);
    const affiliateLedgerBefore = await ledgerOf(exchange, 'affiliate', world.affiliate.id);

    const answer = await deny(returned.body.id, { note: 'consent certificate verified' });

    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ status: 'denied', decided_by: 'operator', note: 'consent certificate verified' });
    expect(await balanceOf(exchange, world.buyer.id)).toBe(balanceBefore);
    expect(await ledgerOf(exchange, 'buyer', world.buyer.id)).toEqual(buyerLedgerBefore);
    expect(await ledgerOf(exchange, 'affiliate', world.affiliate.id)).toEqual(affiliateLedgerBefore);
    const { timeline } = await exchange.admin.lead(leadId);
    expect(timeline.find((e: any) => e.type === 'return.denied')).toMatchObject({ type: 'return.denied', return_id: returned.body.id, note: 'consent certificate verified' });
    expect((await approve(returned.body.id)).status).toBe(409);
    expect((await deny(returned.body.id)).status).toBe(409);
    expect((await returnLead(exchange, world.buyer, leadId)).status).toBe(409);
  });

  it('lists pending returns page by page, and drops them from the list once decided', async () => {
    const world = await scenario(exchange, servers);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { leadId } = await world.sell();
      ids.push((await returnLead(exchange, world.buyer, leadId)).body.id);
    }
    const mine = `&buyer_id=${world.buyer.id}`;

    const first = await exchange.admin.request('GET', `/returns?status=pending&limit=2${mine}`);
    const second = await exchange.admin.request('GET', `/returns?status=pending&limit=2${mine}&after=${first.next}`);

    expect([...first.items, ...second.items].map((r: any) => r.id)).toEqual(ids);
    expect(second.next).toBeNull();
    expect(first.items[0]).toMatchObject({ buyer_id: world.buyer.id, affiliate_id: world.affiliate.id, status: 'pending' });
    await approve(ids[0]!);
    await deny(ids[1]!);
    expect((await exchange.admin.request('GET', `/returns?status=pending${mine}`)).items.map((r: any) => r.id)).toEqual([ids[2]]);
    expect((await exchange.admin.request('GET', `/returns?status=approved${mine}`)).items.map((r: any) => r.id)).toEqual([ids[0]]);
    expect((await exchange.admin.request('GET', `/returns/${ids[1]}`)).status).toBe('denied');
  });

  it('needs the operator token, and answers unknown returns and bad filters with problems', async () => {
    const world = await scenario(exchange, servers);
    const { leadId } = await world.sell();
    const returned = await returnLead(exchange, world.buyer, leadId);

    expect((await exchange.call('POST', `/v1/admin/returns/${returned.body.id}/approve`, { token: world.buyer.api_key })).status).toBe(401);
    expect((await exchange.call('GET', '/v1/admin/returns')).status).toBe(401);
    expect((await approve('rt_missing')).status).toBe(404);
    expect((await deny('rt_missing')).status).toBe(404);
    const badFilter = await exchange.call('GET', '/v1/admin/returns?status=lost', { token: ADMIN_TOKEN });
    expect(badFilter.status).toBe(400);
    expect(badFilter.body.errors).toEqual([{ path: 'status', message: 'must be one of pending, approved, denied' }]);
    const badNote = await approve(returned.body.id, { note: 42 });
    expect(badNote.status).toBe(400);
    expect((await exchange.admin.request('GET', `/returns/${returned.body.id}`)).status).toBe('pending');
  });
});
