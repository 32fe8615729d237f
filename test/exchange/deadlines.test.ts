// Section 5.2: pings go out in parallel and the auction never waits past its deadline.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accepting, bidding, startBuyerServer, type BuyerServer } from '../support/buyer-server.ts';
import { sampleLead, startExchange, type TestExchange } from '../support/exchange.ts';

let exchange: TestExchange;
let affiliateKey: string;
const servers: BuyerServer[] = [];

beforeAll(async () => {
  exchange = await startExchange({ label: 'deadlines', settings: { tmaxMs: 400 } });
  await exchange.admin.vertical();
  affiliateKey = (await exchange.admin.affiliate()).api_key;
});

afterAll(async () => {
  await exchange?.close();
  await Promise.all(servers.map((s) => s.close()));
});

async function campaignsAnswering(count: number, handler: ReturnType<typeof bidding>, timeoutMs = 1000): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const server = await startBuyerServer({ ping: handler, post: accepting() });
    servers.push(server);
    const buyer = await exchange.admin.buyer();
    const campaign = await exchange.admin.campaign({ buyer_id: buyer.id, ping_url: server.pingUrl, post_url: server.postUrl, timeout_ms: timeoutMs });
    ids.push(campaign.id);
  }
  return ids;
}


describe('the ping phase', () => {
  it('asks 10 buyers that each take 100 ms in parallel: the answer comes well under 300 ms', async () => {
    const ids = await campaignsAnswering(10, bidding(10, { delayMs: 100 }));
    await exchange.admin.activateOnly(ids);
    // Warm the keep-alive pools so the measurement is of the auction, not of TCP handshakes.
    await exchange.call('POST', '/v1/leads', { token: affiliateKey, body: sampleLead() });

    const answer = await exchange.call('POST', '/v1/leads', { token: affiliateKey, body: sampleLead() });

    expect(answer.body.status).toBe('sold');
    expect(answer.elapsedMs).toBeGreaterThanOrEqual(100);
    expect(answer.elapsedMs).toBeLessThan(250);
    const { timeline } = await exchange.admin.lead(answer.body.lead_id);
    expect(timeline.filter((e: any) => e.type === 'campaign.pinged')).toHaveLength(10);
  });

  it('does not let a buyer that never answers hold the auction past its deadline', async () => {
    const [silent] = await campaignsAnswering(1, () => ({ hang: true }), 5000);
    const [quick] = await campaignsAnswering(1, bidding(5));
    await exchange.admin.activateOnly([silent!, quick!]);

    const answer = await exchange.call('POST', '/v1/leads', { token: affiliateKey, body: sampleLead() });

    expect(answer.body.status).toBe('sold');
    // tmax is 400 ms; the post to the quick buyer is on loopback.
    expect(answer.elapsedMs).toBeGreaterThanOrEqual(395);
    expect(answer.elapsedMs).toBeLessThan(400 + 100);
    const { timeline } = await exchange.admin.lead(answer.body.lead_id);
    expect(timeline.find((e: any) => e.type === 'campaign.pinged' && e.campaign_id === silent)).toMatchObject({ outcome: 'no_bid', reason: 'timeout' });
  });

  it('bounds each buyer by its own timeout_ms when tighter than the deadline', async () => {
    const [slow] = await campaignsAnswering(1, bidding(50, { delayMs: 300 }), 100);
    const [quick] = await campaignsAnswering(1, bidding(5));
    await exchange.admin.activateOnly([slow!, quick!]);

    const answer = await exchange.call('POST', '/v1/leads', { token: affiliateKey, body: sampleLead() });

    expect(answer.elapsedMs).toBeLessThan(250);
    expect(answer.body).toMatchObject({ status: 'sold', payout: 4 });
  });

  it('records each kind of useless answer as a no-bid with its reason', async () => {
    const [broken] = await campaignsAnswering(1, () => ({ status: 500, json: { error: 'boom' } }));
    const [garbage] = await campaignsAnswering(1, () => ({ body: 'not json' }));
    const [wrongShape] = await campaignsAnswering(1, () => ({ json: { price: 10 } }));
    await exchange.admin.activateOnly([broken!, garbage!, wrongShape!]);

    const answer = await exchange.call('POST', '/v1/leads', { token: affiliateKey, body: sampleLead() });

    expect(answer.body.status).toBe('unsold');
    const { timeline } = await exchange.admin.lead(answer.body.lead_id);
    const reasons = Object.fromEntries(timeline.filter((e: any) => e.type === 'campaign.pinged').map((e: any) => [e.campaign_id, e.reason]));
    expect(reasons).toEqual({ [broken!]: 'http_status', [garbage!]: 'invalid_body', [wrongShape!]: 'invalid_body' });
  });
});
