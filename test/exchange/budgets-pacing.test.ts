// Section 5.1/5.5: a buyer's budget and a campaign's pacing are reserved with its caps, all or
// nothing — on either store.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accepting, bidding, rejecting, startBuyerServer, type BuyerServer } from '../support/buyer-server.ts';
import { sampleLead, startExchange, type TestExchange } from '../support/exchange.ts';

describe.each(['redis', 'memory'] as const)('budgets, pacing and cap alerts with the %s store', (storeKind) => {
  let exchange: TestExchange;
  let affiliateKey: string;
  const servers: BuyerServer[] = [];

  beforeAll(async () => {
    exchange = await startExchange({ label: `budget_${storeKind}`, store: storeKind });
    await exchange.admin.vertical();
    affiliateKey = (await exchange.admin.affiliate()).api_key;
  });

  afterAll(async () => {
    await exchange?.close();
    await Promise.all(servers.map((s) => s.close()));
  });


  async function campaign(buyer: Record<string, unknown>, fields: Record<string, unknown>, bid = 10) {
    const server = await startBuyerServer({ ping: bidding(bid, { delayMs: 5 }), post: accepting({ delayMs: 5 }) });
    servers.push(server);
    const account = await exchange.admin.buyer(buyer);
    const created = await exchange.admin.campaign({ buyer_id: account.id, ping_url: server.pingUrl, post_url: server.postUrl, ...fields });
    return { server, buyerId: account.id as string, id: created.id as string };
  }

  const send = (count: number) => Promise.all(Array.from({ length: count }, () => exchange.call('POST', '/v1/leads', { token: affiliateKey, body: sampleLead() })));

  it('never spends a cent over balance plus credit, however many leads arrive at once', async () => {
    // $47.50 + $5 credit at $7.25 a lead: 7 leads ($50.75) fit, the 8th would overspend.
    const c = await campaign({ balance: 47.5, credit_limit: 5 }, { pricing: { type: 'bid', max_bid: 7.25 } }, 7.25);
    await exchange.admin.activateOnly([c.id]);

    const answers = await send(30);

    expect(answers.filter((a) => a.body.status === 'sold')).toHaveLength(7);
    const spent = await exchange.database.db.selectFrom('sales').select((eb) => eb.fn.sum<number>('price_cents').as('cents')).where('buyer_id', '=', c.buyerId).executeTakeFirstOrThrow();
    expect(Number(spent.cents)).toBe(5075);
    const status = await exchange.admin.request('GET', `/campaigns/${c.id}/status`);
    expect(status.budget).toEqual({ buyer_id: c.buyerId, limit: 52.5, spent: 50.75, available: 1.75 });
    // Once even the cheapest sale would overspend, the buyer is not pinged at all.
    const pings = c.server.received.pings.length;
    const [late] = await send(1);
    expect(late!.body.status).toBe('unsold');
    expect(c.server.received.pings).toHaveLength(pings);
    const { timeline } = await exchange.admin.lead(late!.body.lead_id);
    expect(timeline).toContainEqual(expect.objectContaining({ type: 'campaign.excluded', campaign_id: c.id, reason: 'insufficient_budget' }));
  });

  it('a refused post gives its budget back before the same buyer’s next bid is reserved', async () => {
    // $50 covers either bid but not both: the $30 one fits only once the refused $40 one is released,
    // which the exchange sends on without waiting for its answer.
    const account = await exchange.admin.buyer({ balance: 50 });
    const refusing = await startBuyerServer({ ping: bidding(40), post: rejecting('duplicate') });
    const taking = await startBuyerServer({ ping: bidding(30), post: accepting() });
    servers.push(refusing, taking);
    const first = await exchange.admin.campaign({ buyer_id: account.id, ping_url: refusing.pingUrl, post_url: refusing.postUrl });
    const second = await exchange.admin.campaign({ buyer_id: account.id, ping_url: taking.pingUrl, post_url: taking.postUrl });
    await exchange.admin.activateOnly([first.id, second.id]);

    const [answer] = await send(1);

    expect(answer!.body).toMatchObject({ status: 'sold', payout: 24 });
    expect(refusing.received.posts).toHaveLength(1);
    expect(taking.received.posts).toHaveLength(1);
    const status = await exchange.admin.request('GET', `/campaigns/${second.id}/status`);
    expect(status.budget).toMatchObject({ spent: 30, available: 20 });
  });

  it('setting a balance starts spending again from it', async () => {
    const c = await campaign({ balance: 10 }, {}, 10);
    await exchange.admin.activateOnly([c.id]);
    expect((await send(2)).filter((a) => a.body.status === 'sold')).toHaveLength(1);
    await exchange.admin.request('PATCH', `/buyers/${c.buyerId}`, { balance: 20 });
    expect((await send(3)).filter((a) => a.body.status === 'sold')).toHaveLength(2);
  });

  it('a buyer without a balance is not budgeted', async () => {
    const c = await campaign({ balance: null }, {}, 500);
    await exchange.admin.activateOnly([c.id]);
    expect((await send(5)).filter((a) => a.body.status === 'sold')).toHaveLength(5);
    expect((await exchange.admin.request('GET', `/campaigns/${c.id}/status`)).budget).toBeNull();
  });

  it('max_per_minute spaces sales out instead of letting a minute’s quota through at once', async () => {
    // 60 a minute: one a second.
    const c = await campaign({}, { max_per_minute: 60 });
    await exchange.admin.activateOnly([c.id]);

    const burst = await send(5);
    expect(burst.filter((a) => a.body.status === 'sold')).toHaveLength(1);
    const { timeline } = await exchange.admin.lead(burst.find((a) => a.body.status === 'unsold')!.body.lead_id);
    const refusal = timeline.find((e: any) => e.campaign_id === c.id && (e.type === 'campaign.excluded' || e.type === 'reservation.failed'));
    expect(refusal).toMatchObject({ reason: 'paced' });
    expect((await exchange.admin.request('GET', `/campaigns/${c.id}/status`)).pacing).toMatchObject({ max_per_minute: 60 });

    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await send(1))[0]!.body.status).toBe('sold');
  });

  it('raises a soft-cap alert at 80 % and another at 100 %, in the timeline and as a metric', async () => {
    const c = await campaign({}, { caps: [{ period: 'day', leads: 5 }] });
    await exchange.admin.activateOnly([c.id]);
    const answers: Array<{ body: any }> = [];
    for (let i = 0; i < 5; i++) answers.push((await send(1))[0]!);

    const alertsOf = async (leadId: string) => (await exchange.admin.lead(leadId)).timeline.filter((e: any) => e.type === 'cap.alert');
    expect(await alertsOf(answers[2]!.body.lead_id)).toEqual([]);
    expect(await alertsOf(answers[3]!.body.lead_id)).toEqual([expect.objectContaining({ campaign_id: c.id, level: 80, period: 'day', measure: 'leads', used: 4, limit: 5 })]);
    expect(await alertsOf(answers[4]!.body.lead_id)).toEqual([expect.objectContaining({ level: 100, used: 5 })]);
    const metrics = await (await fetch(`${exchange.url}/metrics`)).text();
    expect(metrics).toContain(`leadex_cap_alerts_total{campaign_id="${c.id}",period="day",measure="leads",level="80"} 1`);
    expect(metrics).toContain(`leadex_cap_alerts_total{campaign_id="${c.id}",period="day",measure="leads",level="100"} 1`);
  });
});
