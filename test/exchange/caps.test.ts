// Section 5.1 and 5.5: caps are checked before any ping and reserved atomically before a post,
// so concurrent leads can never oversell them — with Redis and with the in-process store.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accepting, bidding, rejecting, startBuyerServer, type BuyerServer } from '../support/buyer-server.ts';
import { sampleLead, startExchange, type TestExchange } from '../support/exchange.ts';

describe.each(['redis', 'memory'] as const)('caps with the %s store', (storeKind) => {
  let exchange: TestExchange;
  let affiliateKey: string;
  const servers: BuyerServer[] = [];

  beforeAll(async () => {
    exchange = await startExchange({ label: `caps_${storeKind}`, store: storeKind });
    await exchange.admin.vertical();
    affiliateKey = (await exchange.admin.affiliate()).api_key;
  });

  afterAll(async () => {
    await exchange?.close();
    await Promise.all(servers.map((s) => s.close()));
  });


  async function campaign(fields: Record<string, unknown>, server?: BuyerServer) {
    const s = server ?? (await startBuyerServer({ ping: bidding(10, { delayMs: 5 }), post: accepting({ delayMs: 5 }) }));
    if (!server) servers.push(s);
    const buyer = await exchange.admin.buyer();
    const created = await exchange.admin.campaign({ buyer_id: buyer.id, ping_url: s.pingUrl, post_url: s.postUrl, ...fields });
    return { server: s, id: created.id as string };
  }

  const sendConcurrently = (count: number) =>
    Promise.all(Array.from({ length: count }, () => exchange.call('POST', '/v1/leads', { token: affiliateKey, body: sampleLead() })));

  it('a day cap of N sells exactly N leads when 5N arrive at once', async () => {
    const N = 10;
    const capped = await campaign({ caps: [{ period: 'day', leads: N }] });
    await exchange.admin.activateOnly([capped.id]);

    const answers = await sendConcurrently(5 * N);

    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(answers.filter((a) => a.body.status === 'sold')).toHaveLength(N);
    expect(answers.filter((a) => a.body.status === 'unsold')).toHaveLength(4 * N);
    expect(capped.server.received.posts).toHaveLength(N);
    const sold = await exchange.database.db.selectFrom('sales').select('id').where('campaign_id', '=', capped.id).execute();
    expect(sold).toHaveLength(N);
    const status = await exchange.admin.request('GET', `/campaigns/${capped.id}/status`);
    expect(status.caps).toEqual([expect.objectContaining({ period: 'day', measure: 'leads', used: N, remaining: 0 })]);
  });

  it('excludes a campaign whose cap is reached before pinging it, and says so in the timeline', async () => {
    const full = await campaign({ caps: [{ period: 'hour', leads: 1 }] });
    await exchange.admin.activateOnly([full.id]);
    expect((await sendConcurrently(1))[0]!.body.status).toBe('sold');
    const pingsBefore = full.server.received.pings.length;

    const [answer] = await sendConcurrently(1);

    expect(answer!.body.status).toBe('unsold');
    expect(full.server.received.pings).toHaveLength(pingsBefore);
    const { timeline } = await exchange.admin.lead(answer!.body.lead_id);
    expect(timeline).toContainEqual(expect.objectContaining({ type: 'campaign.excluded', campaign_id: full.id, reason: 'cap_reached', period: 'hour', measure: 'leads' }));
  });

  it('a spend cap counts what was paid, not leads', async () => {
    // $25 a day at $10 a lead: two sales fit, a third would overspend.
    const spend = await campaign({ caps: [{ period: 'day', spend: 25 }] });
    await exchange.admin.activateOnly([spend.id]);

    const answers = await sendConcurrently(6);

    expect(answers.filter((a) => a.body.status === 'sold')).toHaveLength(2);
    const status = await exchange.admin.request('GET', `/campaigns/${spend.id}/status`);
    expect(status.caps).toEqual([expect.objectContaining({ measure: 'spend', used: 20, limit: 25 })]);
  });

  it('a capped-out winner is replaced by the next bid', async () => {
    const server = await startBuyerServer({ ping: bidding(50), post: accepting() });
    servers.push(server);
    const rich = await campaign({ caps: [{ period: 'day', leads: 2 }] }, server);
    const fallback = await campaign({});
    await exchange.admin.activateOnly([rich.id, fallback.id]);

    const answers = await sendConcurrently(8);

    expect(answers.map((a) => a.body.status)).toEqual(Array(8).fill('sold'));
    expect(server.received.posts).toHaveLength(2);
    expect(fallback.server.received.posts).toHaveLength(6);
  });

  it('gives back the cap of a post the buyer refused', async () => {
    const refusing = await startBuyerServer({ ping: bidding(10), post: rejecting('not today') });
    servers.push(refusing);
    const capped = await campaign({ caps: [{ period: 'month', leads: 3 }] }, refusing);
    await exchange.admin.activateOnly([capped.id]);

    const answers = await sendConcurrently(5);

    expect(answers.every((a) => a.body.status === 'unsold')).toBe(true);
    expect(refusing.received.posts.length).toBeGreaterThanOrEqual(3);
    const status = await exchange.admin.request('GET', `/campaigns/${capped.id}/status`);
    expect(status.caps[0]).toMatchObject({ used: 0 });
  });
});
