// The circuit breaker around the buyer client, against real loopback buyers: which answers count
// as failures, when a breaker opens, the single half-open probe, and breakers released on
// reconfiguration.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { BreakerBuyerClient } from '../../src/buyers/breaker-buyer-client.ts';
import type { PingBody, PostBody } from '../../src/buyers/buyer-client.ts';
import { HttpBuyerClient } from '../../src/buyers/http-buyer-client.ts';
import type { BreakerSettings, CampaignWithSecret } from '../../src/catalog/types.ts';
import { accepting, bidding, noBid, rejecting, reply, startBuyerServer } from '../support/buyer-server.ts';
import type { BuyerBehaviour, BuyerServer, Handler } from '../support/buyer-server.ts';
import { buyerServer, closesAfterEach, far, testCampaign, testPingBody, testPostBody } from '../support/buyer-fixtures.ts';

const defer = closesAfterEach();
const buyer = (behaviour: BuyerBehaviour): Promise<BuyerServer> => buyerServer(defer, behaviour);
// Quick post retries keep failing posts short; the retry policy itself is tested elsewhere.
const client = (): BreakerBuyerClient => defer(new BreakerBuyerClient(new HttpBuyerClient({ postRetryBackoffMs: 1, maxPostAttempts: 2 })));

const settings = (overrides: Partial<BreakerSettings> = {}): BreakerSettings => ({
  error_threshold_percentage: 50,
  volume_threshold: 3,
  rolling_window_ms: 10_000,
  reset_timeout_ms: 60_000,
  ...overrides,
});

const campaign = (server: BuyerServer, overrides: Partial<CampaignWithSecret> = {}): CampaignWithSecret =>
  testCampaign(server, { breaker: settings(), ...overrides });
const pingBody: PingBody = testPingBody();
const postBody: PostBody = testPostBody();

/** Breaker timers run on real time: wait for the state rather than guess how long it takes. */
async function until(condition: () => boolean, withinMs = 3000): Promise<void> {
  const giveUp = Date.now() + withinMs;
  while (!condition()) {
    if (Date.now() > giveUp) throw new Error('condition not reached in time');
    await sleep(10);
  }
}

describe('a ping breaker', () => {
  it('opens after volume_threshold failures and then refuses pings without reaching the buyer', async () => {
    const server = await buyer({ ping: reply({ status: 500 }) });
    const c = client();
    const cp = campaign(server);

    for (let i = 0; i < 3; i++) expect(await c.ping(cp, pingBody, far())).toMatchObject({ kind: 'no_bid', reason: 'http_status' });

    expect(c.blocked(cp)).toBe('ping');
    expect(c.report(cp)).toMatchObject({ ping: 'open', post: 'closed', stats: { ping: { calls: 3, failures: 3, error_percentage: 100 } } });
    expect(await c.ping(cp, pingBody, far())).toEqual({ kind: 'no_bid', reason: 'breaker_open', latencyMs: 0 });
    expect(server.received.pings).toHaveLength(3);
  });

  it('stays closed below the volume threshold, however bad the error rate', async () => {
    const server = await buyer({ ping: reply({ status: 500 }) });
    const c = client();
    const cp = campaign(server, { breaker: settings({ volume_threshold: 5 }) });

    for (let i = 0; i < 4; i++) await c.ping(cp, pingBody, far());

    expect(c.blocked(cp)).toBeNull();
    expect(c.report(cp).ping).toBe('closed');
  });

  it('does not count valid no-bids (204, bid 0) as failures', async () => {
    let n = 0;
    const server = await buyer({ ping: () => (n++ % 2 === 0 ? { status: 204 } : { json: { bid: 0 } }) });
    const c = client();
    const cp = campaign(server);

    for (let i = 0; i < 10; i++) expect(await c.ping(cp, pingBody, far())).toMatchObject({ kind: 'no_bid', reason: 'no_bid' });

    expect(c.blocked(cp)).toBeNull();
    expect(c.report(cp).stats.ping).toMatchObject({ calls: 10, failures: 0, successes: 10 });
  });

  // Streamed in pieces: a 10 MB string written at once would stall this process's event loop.
  const tenMegabytes = reply({ status: 200, drip: { chunk: 'x'.repeat(64 * 1024), everyMs: 1, count: 160 } });
  it.each<[string, Handler, string]>([
    ['a timeout', reply({ hang: true }), 'timeout'],
    ['a 404', reply({ status: 404 }), 'http_status'],
    ['invalid JSON', reply({ body: '{"bid": ', headers: { 'content-type': 'application/json' } }), 'invalid_body'],
    ['a 10 MB body', tenMegabytes, 'too_large'],
    ['a redirect', reply({ status: 302, headers: { location: 'http://127.0.0.1:9/ping' } }), 'redirect'],
    ['a dropped connection', reply({ destroy: 'before_headers' }), 'network'],
  ])('counts %s as a failure', async (_name, handler, reason) => {
    const server = await buyer({ ping: handler });
    const c = client();
    const cp = campaign(server, { timeout_ms: reason === 'timeout' ? 100 : 2000, breaker: settings({ volume_threshold: 2 }) });

    expect(await c.ping(cp, pingBody, far())).toMatchObject({ kind: 'no_bid', reason });
    expect(c.blocked(cp)).toBeNull();
    expect(await c.ping(cp, pingBody, far())).toMatchObject({ kind: 'no_bid', reason });
    expect(c.blocked(cp)).toBe('ping');
  });

  it('lets exactly one probe through after the reset timeout, and closes when it succeeds', async () => {
    const server = await buyer({ ping: reply({ status: 500 }) });
    const c = client();
    const cp = campaign(server, { breaker: settings({ reset_timeout_ms: 200 }) });
    for (let i = 0; i < 3; i++) await c.ping(cp, pingBody, far());
    expect(c.report(cp).ping).toBe('open');

    await until(() => c.report(cp).ping === 'half_open');
    expect(c.blocked(cp)).toBeNull();
    server.behaviour.ping = bidding(7, { delayMs: 100 });

    // Five auctions at once in half-open: one probe goes out, the rest are refused meanwhile.
    const probing = Promise.all(Array.from({ length: 5 }, () => c.ping(cp, pingBody, far())));
    expect(c.blocked(cp)).toBe('ping');
    const outcomes = await probing;

    expect(outcomes.filter((o) => o.kind === 'bid')).toHaveLength(1);
    expect(outcomes.filter((o) => o.kind === 'no_bid' && o.reason === 'breaker_open')).toHaveLength(4);
    expect(server.received.pings).toHaveLength(3 + 1);
    expect(c.report(cp).ping).toBe('closed');
    expect(await c.ping(cp, pingBody, far())).toMatchObject({ kind: 'bid', amount: 700 });
    expect(server.received.pings).toHaveLength(3 + 2);
  });

  it('opens again when the probe fails', async () => {
    const server = await buyer({ ping: reply({ status: 503 }) });
    const c = client();
    // Long enough that the breaker is surely still open when asked again right after the probe.
    const cp = campaign(server, { breaker: settings({ reset_timeout_ms: 1000 }) });
    for (let i = 0; i < 3; i++) await c.ping(cp, pingBody, far());

    await until(() => c.report(cp).ping === 'half_open');
    expect(await c.ping(cp, pingBody, far())).toMatchObject({ kind: 'no_bid', reason: 'http_status' });

    expect(c.report(cp).ping).toBe('open');
    expect(await c.ping(cp, pingBody, far())).toMatchObject({ reason: 'breaker_open' });
    expect(server.received.pings).toHaveLength(4);
  });

  it('gives a recovered endpoint a clean window: one later failure does not reopen it', async () => {
    const server = await buyer({ ping: reply({ status: 500 }) });
    const c = client();
    const cp = campaign(server, { breaker: settings({ reset_timeout_ms: 200 }) });
    for (let i = 0; i < 3; i++) await c.ping(cp, pingBody, far());
    await until(() => c.report(cp).ping === 'half_open');
    server.behaviour.ping = bidding(5);
    expect(await c.ping(cp, pingBody, far())).toMatchObject({ kind: 'bid' });

    server.behaviour.ping = reply({ status: 500 });
    await c.ping(cp, pingBody, far());

    expect(c.report(cp)).toMatchObject({ ping: 'closed', stats: { ping: { calls: 1, failures: 1 } } });
  });

  it('does not judge a buyer by calls whose deadline had already passed', async () => {
    const server = await buyer({ ping: bidding(5) });
    const c = client();
    const cp = campaign(server, { breaker: settings({ volume_threshold: 1 }) });

    for (let i = 0; i < 5; i++) expect(await c.ping(cp, pingBody, Date.now() - 1)).toMatchObject({ reason: 'timeout' });

    expect(c.blocked(cp)).toBeNull();
    expect(c.report(cp).stats.ping.calls).toBe(0);
    expect(server.received.pings).toHaveLength(0);
  });

  it('uses the exchange defaults when the campaign sets none', async () => {
    const server = await buyer({ ping: reply({ status: 500 }) });
    const c = client();
    const cp = campaign(server, { breaker: null });

    for (let i = 0; i < 9; i++) await c.ping(cp, pingBody, far());
    expect(c.blocked(cp)).toBeNull();
    await c.ping(cp, pingBody, far());

    expect(c.blocked(cp)).toBe('ping');
    expect(c.report(cp).settings).toEqual({ error_threshold_percentage: 50, volume_threshold: 10, rolling_window_ms: 10_000, reset_timeout_ms: 5_000 });
  });
});

describe('a post breaker', () => {
  it.each<[string, Handler, string]>([
    ['a 5xx', reply({ status: 502 }), 'http_status'],
    ['an answer that is not JSON', reply({ body: 'OK' }), 'invalid_body'],
    ['a dropped connection', reply({ destroy: 'before_headers' }), 'network'],
    ['a timeout', reply({ hang: true }), 'timeout'],
  ])('counts %s as a failure and then blocks the campaign', async (_name, handler, reason) => {
    const server = await buyer({ ping: bidding(5), post: handler });
    const c = client();
    const cp = campaign(server, { post_timeout_ms: 150, breaker: settings({ volume_threshold: 2 }) });

    for (let i = 0; i < 2; i++) expect(await c.post(cp, postBody, `sale-${i}`, far())).toMatchObject({ kind: 'failed', reason });

    expect(c.blocked(cp)).toBe('post');
    expect(c.report(cp)).toMatchObject({ ping: 'closed', post: 'open' });
    const posted = server.received.posts.length;
    expect(await c.post(cp, postBody, 'sale-x', far())).toEqual({ kind: 'failed', reason: 'breaker_open', latencyMs: 0, attempts: 0 });
    expect(server.received.posts).toHaveLength(posted);
    // The ping endpoint is judged apart: it still gets called.
    expect(await c.ping(cp, pingBody, far())).toMatchObject({ kind: 'bid' });
  });

  it.each<[string, Handler]>([
    ['a clean rejection', rejecting('duplicate')],
    ['a 4xx', reply({ status: 422, json: { error: 'missing field' } })],
    ['a redirect', reply({ status: 307, headers: { location: 'http://127.0.0.1:9/post' } })],
  ])('does not count %s', async (_name, handler) => {
    const server = await buyer({ post: handler });
    const c = client();
    const cp = campaign(server, { breaker: settings({ volume_threshold: 2 }) });

    for (let i = 0; i < 4; i++) await c.post(cp, postBody, `sale-${i}`, far());

    expect(c.blocked(cp)).toBeNull();
    expect(c.report(cp).stats.post).toMatchObject({ calls: 4, failures: 0 });
    expect(server.received.posts).toHaveLength(4);
  });

  it('lets an accepted post close a half-open breaker', async () => {
    const server = await buyer({ post: reply({ status: 500 }) });
    const c = client();
    const cp = campaign(server, { breaker: settings({ volume_threshold: 2, reset_timeout_ms: 200 }) });
    for (let i = 0; i < 2; i++) await c.post(cp, postBody, `sale-${i}`, far());
    expect(c.blocked(cp)).toBe('post');

    await until(() => c.report(cp).post === 'half_open');
    server.behaviour.post = accepting();
    expect(await c.post(cp, postBody, 'sale-probe', far())).toMatchObject({ kind: 'accepted' });

    expect(c.blocked(cp)).toBeNull();
    expect(c.report(cp).post).toBe('closed');
  });
});

describe('breakers follow the catalog', () => {
  it('are created per campaign endpoint on first use, and dropped for campaigns that are gone', async () => {
    const server = await buyer({ ping: noBid(), post: accepting() });
    const c = client();
    const a = campaign(server, { id: 'cp_a' });
    const b = campaign(server, { id: 'cp_b' });
    expect(c.size).toBe(0);

    await c.ping(a, pingBody, far());
    await c.post(a, postBody, 'sale-a', far());
    await c.ping(b, pingBody, far());
    expect(c.size).toBe(3);

    c.prune((id) => (id === 'cp_b' ? b : undefined));
    expect(c.size).toBe(1);
    c.prune(() => undefined);
    expect(c.size).toBe(0);
  });

  it('rebuilds, closed, the breaker of a campaign whose thresholds or endpoint changed', async () => {
    const server = await buyer({ ping: reply({ status: 500 }) });
    const c = client();
    const before = campaign(server);
    for (let i = 0; i < 3; i++) await c.ping(before, pingBody, far());
    expect(c.blocked(before)).toBe('ping');

    const retuned = { ...before, breaker: settings({ volume_threshold: 20 }) };
    c.prune((id) => (id === before.id ? retuned : undefined));
    expect(c.size).toBe(0);
    expect(c.blocked(retuned)).toBeNull();
    expect(c.report(retuned)).toMatchObject({ ping: 'closed', settings: { volume_threshold: 20 } });
    expect(await c.ping(retuned, pingBody, far())).toMatchObject({ reason: 'http_status' });

    const healthy = await buyer({ ping: bidding(4) });
    const moved = { ...retuned, ping_url: healthy.pingUrl };
    // Even before the catalog says so, a call for the new endpoint is not judged by the old one.
    expect(c.report(moved).stats.ping.calls).toBe(0);
    expect(await c.ping(moved, pingBody, far())).toMatchObject({ kind: 'bid' });
    expect(c.size).toBe(1);
  });

  it('close() shuts every breaker and the client below', async () => {
    const server = await buyer({ ping: bidding(3) });
    const c = new BreakerBuyerClient(new HttpBuyerClient());
    const cp = campaign(server);
    await c.ping(cp, pingBody, far());

    await c.close();

    expect(c.size).toBe(0);
    expect(await c.ping(cp, pingBody, far())).toMatchObject({ kind: 'no_bid', reason: 'network', detail: 'client closed' });
  });
});
