// Circuit breakers in the exchange (PROTOCOL 5.1): a buyer endpoint that keeps failing is left
// out of auctions before any ping, gets a single probe after its reset timeout, and is back once
// healthy; the operator sees it all in the campaign status and the lead timelines.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BreakerBuyerClient } from '../../src/buyers/breaker-buyer-client.ts';
import { accepting, bidding, reply, startBuyerServer, type BuyerServer } from '../support/buyer-server.ts';
import { ADMIN_TOKEN, sampleLead, startExchange, type TestExchange } from '../support/exchange.ts';

let exchange: TestExchange;
let affiliateKey: string;
const servers: BuyerServer[] = [];

beforeAll(async () => {
  exchange = await startExchange({ label: 'breakers', settings: { tmaxMs: 500 } });
  await exchange.admin.vertical();
  affiliateKey = (await exchange.admin.affiliate()).api_key;
});

afterAll(async () => {
  await exchange?.close();
  await Promise.all(servers.map((s) => s.close()));
});

async function buyerServer(handlers: Parameters<typeof startBuyerServer>[0]): Promise<BuyerServer> {
  const s = await startBuyerServer(handlers);
  servers.push(s);
  return s;
}

async function campaignOn(server: BuyerServer, fields: Record<string, unknown> = {}): Promise<string> {
  const buyer = await exchange.admin.buyer();
  return (await exchange.admin.campaign({ buyer_id: buyer.id, ping_url: server.pingUrl, post_url: server.postUrl, ...fields })).id;
}

async function activateOnly(ids: string[]): Promise<void> {
  const list = await exchange.admin.request('GET', '/campaigns?limit=100');
  for (const c of list.items) {
    const wanted = ids.includes(c.id);
    if ((c.status === 'active') !== wanted) await exchange.admin.request('PATCH', `/campaigns/${c.id}`, { status: wanted ? 'active' : 'paused' });
  }
}

async function sendLead(): Promise<string> {
  const answer = await exchange.call('POST', '/v1/leads', { token: affiliateKey, body: sampleLead() });
  expect(answer.status).toBe(200);
  return answer.body.lead_id;
}

const status = (id: string) => exchange.admin.request('GET', `/campaigns/${id}/status`);

/** What the timeline of a lead says about one campaign: pinged (with reason) or excluded (with reason). */
async function fate(leadId: string, campaignId: string): Promise<string[]> {
  const { timeline } = await exchange.admin.lead(leadId);
  return timeline
    .filter((e: any) => e.campaign_id === campaignId && (e.type === 'campaign.pinged' || e.type === 'campaign.excluded'))
    .map((e: any) => `${e.type}:${e.reason ?? e.outcome}`);
}

/** Breaker timers run on real time; waits by polling rather than by guessing. */
async function until(id: string, endpoint: 'ping' | 'post', state: string, withinMs = 3000): Promise<void> {
  const giveUp = Date.now() + withinMs;
  while ((await status(id)).breaker[endpoint] !== state) {
    if (Date.now() > giveUp) throw new Error(`breaker ${endpoint} of ${id} never became ${state}`);
    await sleep(25);
  }
}

describe('a ping breaker', () => {
  it('stops pings after the threshold, lets one probe through after the reset timeout, and closes once the buyer is healthy', async () => {
    const failing = await buyerServer({ ping: reply({ status: 500, json: { error: 'down' } }), post: accepting() });
    const flaky = await campaignOn(failing, {
      breaker: { error_threshold_percentage: 50, volume_threshold: 4, rolling_window_ms: 10_000, reset_timeout_ms: 1000 },
    });
    const good = await campaignOn(await buyerServer({ ping: bidding(5), post: accepting() }));
    await activateOnly([flaky, good]);
    expect((await status(flaky)).breaker).toMatchObject({ ping: 'closed', post: 'closed', settings: { volume_threshold: 4, reset_timeout_ms: 1000 } });

    // Four failures in the window reach the volume threshold at 100% errors: the breaker opens.
    for (let i = 0; i < 4; i++) expect(await fate(await sendLead(), flaky)).toEqual(['campaign.pinged:http_status']);
    expect(failing.received.pings).toHaveLength(4);
    expect((await status(flaky)).breaker).toMatchObject({ ping: 'open', post: 'closed', stats: { ping: { calls: 4, failures: 4, error_percentage: 100 } } });

    // Open: left out before any ping. (Leads first, timelines after: all inside the reset timeout.)
    let leads = [await sendLead(), await sendLead(), await sendLead()];
    expect(failing.received.pings).toHaveLength(4);
    for (const lead of leads) expect(await fate(lead, flaky)).toEqual(['campaign.excluded:breaker_open']);

    // Half-open: one probe; it fails, so the breaker opens again for the leads right after.
    await until(flaky, 'ping', 'half_open');
    leads = [await sendLead(), await sendLead(), await sendLead()];
    expect(failing.received.pings).toHaveLength(5);
    expect((await status(flaky)).breaker.ping).toBe('open');
    expect(await fate(leads[0]!, flaky)).toEqual(['campaign.pinged:http_status']);
    for (const lead of leads.slice(1)) expect(await fate(lead, flaky)).toEqual(['campaign.excluded:breaker_open']);

    // Healthy again: the next probe succeeds, the breaker closes, and every lead pings it.
    failing.behaviour.ping = bidding(20);
    await until(flaky, 'ping', 'half_open');
    expect(await fate(await sendLead(), flaky)).toEqual(['campaign.pinged:bid']);
    expect((await status(flaky)).breaker.ping).toBe('closed');
    for (let i = 0; i < 2; i++) expect(await fate(await sendLead(), flaky)).toEqual(['campaign.pinged:bid']);
    expect(failing.received.pings).toHaveLength(8);
  });

  it('is rebuilt, closed, when the operator changes the campaign thresholds', async () => {
    const failing = await buyerServer({ ping: reply({ status: 502 }) });
    const flaky = await campaignOn(failing, { breaker: { volume_threshold: 2, reset_timeout_ms: 60_000 } });
    await activateOnly([flaky]);
    for (let i = 0; i < 2; i++) await sendLead();
    expect((await status(flaky)).breaker.ping).toBe('open');

    await exchange.admin.request('PATCH', `/campaigns/${flaky}`, { breaker: { volume_threshold: 20 } });

    expect((await status(flaky)).breaker).toMatchObject({ ping: 'closed', settings: { volume_threshold: 20, reset_timeout_ms: 5000 } });
    expect(await fate(await sendLead(), flaky)).toEqual(['campaign.pinged:http_status']);
    expect(failing.received.pings).toHaveLength(3);
  });
});

describe('a post breaker', () => {
  it('keeps a campaign whose posts keep failing out of auctions, before it is pinged', async () => {
    const broken = await buyerServer({ ping: bidding(50), post: reply({ status: 503 }) });
    const flaky = await campaignOn(broken, { post_timeout_ms: 200, breaker: { volume_threshold: 2, reset_timeout_ms: 60_000 } });
    const fallbackServer = await buyerServer({ ping: bidding(5), post: accepting() });
    const fallback = await campaignOn(fallbackServer);
    await activateOnly([flaky, fallback]);

    for (let i = 0; i < 2; i++) {
      const leadId = await sendLead();
      const { timeline, sales } = await exchange.admin.lead(leadId);
      expect(timeline).toContainEqual(expect.objectContaining({ type: 'post.failed', campaign_id: flaky, reason: 'http_status' }));
      expect(sales).toEqual([expect.objectContaining({ campaign_id: fallback })]);
    }
    expect((await status(flaky)).breaker).toMatchObject({ ping: 'closed', post: 'open', stats: { post: { failures: 2 } } });
    const pinged = broken.received.pings.length;
    const posted = broken.received.posts.length;

    const leadId = await sendLead();

    expect(await fate(leadId, flaky)).toEqual(['campaign.excluded:breaker_open']);
    expect((await exchange.admin.lead(leadId)).sales).toEqual([expect.objectContaining({ campaign_id: fallback })]);
    expect(broken.received.pings).toHaveLength(pinged);
    expect(broken.received.posts).toHaveLength(posted);
  });
});

describe('deleting a campaign', () => {
  it('releases its breakers', async () => {
    const breakers = exchange.runtime.deps.buyers;
    expect(breakers).toBeInstanceOf(BreakerBuyerClient);
    const held = () => (breakers as BreakerBuyerClient).size;
    const doomed = await campaignOn(await buyerServer({ ping: bidding(7), post: accepting() }));
    await activateOnly([doomed]);
    const before = held();

    await sendLead();
    // One for its ping endpoint, one for its post endpoint.
    expect(held()).toBe(before + 2);

    await exchange.admin.request('DELETE', `/campaigns/${doomed}`);

    expect(held()).toBe(before);
    expect((await exchange.call('GET', `/v1/admin/campaigns/${doomed}/status`, { token: ADMIN_TOKEN })).status).toBe(404);
  });
});

describe('breaker settings through the admin API', () => {
  it('refuses out-of-range thresholds with a problem naming each field', async () => {
    const buyer = await exchange.admin.buyer();
    const answer = await exchange.call('POST', '/v1/admin/campaigns', {
      token: ADMIN_TOKEN,
      body: {
        buyer_id: buyer.id, name: 'Bad breaker', vertical: 'auto_insurance', mode: 'exclusive', pricing: { type: 'bid' },
        ping_url: 'http://127.0.0.1:9/ping', post_url: 'http://127.0.0.1:9/post',
        breaker: { volume_threshold: 0, reset_timeout_ms: 50 }, post_timeout_ms: 10,
      },
    });

    expect(answer.status).toBe(400);
    expect(answer.headers.get('content-type')).toContain('application/problem+json');
    expect(answer.body.errors.map((e: any) => e.path)).toEqual(['breaker.volume_threshold', 'breaker.reset_timeout_ms', 'post_timeout_ms']);
  });

  it('shows what the operator set, and null once reset to the defaults', async () => {
    const id = await campaignOn(await buyerServer({}), { breaker: { reset_timeout_ms: 250 }, post_timeout_ms: 1500 });
    expect(await exchange.admin.request('GET', `/campaigns/${id}`)).toMatchObject({
      breaker: { error_threshold_percentage: 50, volume_threshold: 10, rolling_window_ms: 10_000, reset_timeout_ms: 250 },
      post_timeout_ms: 1500,
    });

    await exchange.admin.request('PATCH', `/campaigns/${id}`, { breaker: null, post_timeout_ms: null });

    expect(await exchange.admin.request('GET', `/campaigns/${id}`)).toMatchObject({ breaker: null, post_timeout_ms: null });
    expect((await status(id)).breaker.settings).toEqual({ error_threshold_percentage: 50, volume_threshold: 10, rolling_window_ms: 10_000, reset_timeout_ms: 5000 });
  });
});
