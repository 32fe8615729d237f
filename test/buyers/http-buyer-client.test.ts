// Real loopback buyers, no HTTP mocks: the point is to see what undici and the kernel really do
// with slow, huge, redirecting and dying buyers.
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { PingBody, PostBody } from '../../src/buyers/buyer-client.ts';
import { HttpBuyerClient, originOf } from '../../src/buyers/http-buyer-client.ts';
import { verifySignature } from '../../src/buyers/signing.ts';
import type { CampaignWithSecret } from '../../src/catalog/types.ts';
import {
  accepting,
  bidding,
  noBid,
  rejecting,
  reply,
  sequence,
  startBuyerServer,
} from '../support/buyer-server.ts';
import type { BuyerBehaviour, BuyerServer } from '../support/buyer-server.ts';
import { buyerServer, closesAfterEach, far, testCampaign, testPingBody, testPostBody } from '../support/buyer-fixtures.ts';

const TOLERANCE_MS = 50;

const defer = closesAfterEach();
const buyer = (behaviour: BuyerBehaviour): Promise<BuyerServer> => buyerServer(defer, behaviour);
const client = (options: ConstructorParameters<typeof HttpBuyerClient>[0] = {}): HttpBuyerClient => defer(new HttpBuyerClient(options));
const campaign = (server: { pingUrl: string; postUrl: string }, overrides: Partial<CampaignWithSecret> = {}): CampaignWithSecret =>
  testCampaign(server, { headers: { 'x-api-key': 'k-123', 'X-Buyer-Account': 'acct-9' }, ...overrides });
const pingBody: PingBody = testPingBody({ data: { state: 'CA', zip: '90210', age: 34, note: 'Zoë' }, contact_hashes: { email_sha256: 'e'.repeat(64) }, tmax_ms: 800 });
const postBody: PostBody = testPostBody({ price: 21 });

describe('HttpBuyerClient.ping', () => {
  it('parses a bid (cents) and sends the configured headers with a valid signature', async () => {
    const server = await buyer({ ping: bidding(21.5, { bidId: 'b-123' }) });
    const outcome = await client().ping(campaign(server), pingBody, far());
    expect(outcome).toMatchObject({ kind: 'bid', amount: 2150, bidId: 'b-123', status: 200 });
    expect(outcome.latencyMs).toBeGreaterThanOrEqual(0);

    expect(server.received.pings).toHaveLength(1);
    const req = server.received.pings[0]!;
    expect(req.method).toBe('POST');
    expect(req.json).toEqual(pingBody);
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['x-api-key']).toBe('k-123');
    expect(req.headers['x-buyer-account']).toBe('acct-9');
    const ts = req.headers['x-leadex-timestamp'] as string;
    expect(Math.abs(Number(ts) - Date.now() / 1000)).toBeLessThan(5);
    expect(verifySignature('secret-abc', ts, req.rawBody, req.headers['x-leadex-signature'] as string)).toBe(true);
    expect(verifySignature('wrong', ts, req.rawBody, req.headers['x-leadex-signature'] as string)).toBe(false);
    expect(req.headers['idempotency-key']).toBeUndefined();
  });

  it('does not let campaign headers override the signature or content-type', async () => {
    const server = await buyer({ ping: bidding(5) });
    const c = campaign(server, { headers: { 'X-Leadex-Signature': 'v1=forged', 'Content-Type': 'text/plain', Connection: 'upgrade' } });
    expect(await client().ping(c, pingBody, far())).toMatchObject({ kind: 'bid', amount: 500 });
    const req = server.received.pings[0]!;
    expect(req.headers['content-type']).toBe('application/json');
    expect(verifySignature('secret-abc', req.headers['x-leadex-timestamp'] as string, req.rawBody, req.headers['x-leadex-signature'] as string)).toBe(true);
  });

  it.each([
    ['204', noBid()],
    ['bid 0', reply({ json: { bid: 0 } })],
    ['bid null', reply({ json: { bid: null } })],
  ])('treats %s as no_bid', async (_name, handler) => {
    const server = await buyer({ ping: handler });
    expect(await client().ping(campaign(server), pingBody, far())).toMatchObject({ kind: 'no_bid', reason: 'no_bid' });
  });

  it.each([
    ['invalid JSON', reply({ body: '{"bid": 12', headers: { 'content-type': 'application/json' } }), 'invalid_body', 200],
    ['wrong shape', reply({ json: { price: 12 } }), 'invalid_body', 200],
    ['string bid', reply({ json: { bid: '12' } }), 'invalid_body', 200],
    ['500', reply({ status: 500, json: { error: 'boom' } }), 'http_status', 500],
  ])('records %s as %s', async (_name, handler, reason, status) => {
    const server = await buyer({ ping: handler });
    expect(await client().ping(campaign(server), pingBody, far())).toMatchObject({ kind: 'no_bid', reason, status });
  });

  it('never follows a redirect', async () => {
    const target = await buyer({ ping: bidding(99) });
    const server = await buyer({ ping: reply({ status: 302, headers: { location: target.pingUrl } }) });
    const outcome = await client().ping(campaign(server), pingBody, far());
    expect(outcome).toMatchObject({ kind: 'no_bid', reason: 'redirect', status: 302 });
    await new Promise((r) => setTimeout(r, 50));
    expect(target.received.pings).toHaveLength(0);
    expect(target.connections).toBe(0);
  });

  it('refuses a 10 MB body quickly (content-length and chunked)', async () => {
    const huge = JSON.stringify({ bid: 5, pad: 'x'.repeat(10 * 1024 * 1024) });
    for (const chunked of [false, true]) {
      const server = await buyer({ ping: reply({ body: huge, chunked, headers: { 'content-type': 'application/json' } }) });
      const t0 = Date.now();
      const outcome = await client().ping(campaign(server, { timeout_ms: 5000 }), pingBody, far());
      expect(outcome).toMatchObject({ kind: 'no_bid', reason: 'too_large', status: 200 });
      expect(Date.now() - t0).toBeLessThan(1000);
    }
  });

  it('accepts a body of exactly the cap', async () => {
    const base = JSON.stringify({ bid: 5, pad: '' });
    const body = JSON.stringify({ bid: 5, pad: 'x'.repeat(64 * 1024 - base.length) });
    expect(Buffer.byteLength(body)).toBe(64 * 1024);
    const server = await buyer({ ping: reply({ body, chunked: true }) });
    expect(await client().ping(campaign(server), pingBody, far())).toMatchObject({ kind: 'bid', amount: 500 });
  });

  it('times out a hanging buyer at its timeout_ms', async () => {
    const server = await buyer({ ping: reply({ hang: true }) });
    const t0 = Date.now();
    const outcome = await client().ping(campaign(server, { timeout_ms: 300 }), pingBody, far());
    const elapsed = Date.now() - t0;
    expect(outcome).toMatchObject({ kind: 'no_bid', reason: 'timeout' });
    expect(elapsed).toBeGreaterThanOrEqual(300 - TOLERANCE_MS);
    expect(elapsed).toBeLessThanOrEqual(300 + TOLERANCE_MS);
    expect(outcome.latencyMs).toBeGreaterThanOrEqual(300 - TOLERANCE_MS);
  });

  it('cuts a buyer dripping one byte a second at the deadline', async () => {
    const server = await buyer({ ping: reply({ status: 200, drip: { chunk: ' ', everyMs: 1000, count: 60 } }) });
    const t0 = Date.now();
    const outcome = await client().ping(campaign(server, { timeout_ms: 10_000 }), pingBody, t0 + 1500);
    const elapsed = Date.now() - t0;
    expect(outcome).toMatchObject({ kind: 'no_bid', reason: 'timeout' });
    expect(Math.abs(elapsed - 1500)).toBeLessThanOrEqual(TOLERANCE_MS);
  });

  it('the tighter of timeout_ms and the auction deadline wins', async () => {
    const server = await buyer({ ping: reply({ hang: true }) });
    const c = client();

    let t0 = Date.now();
    await c.ping(campaign(server, { timeout_ms: 1000 }), pingBody, t0 + 200);
    expect(Math.abs(Date.now() - t0 - 200)).toBeLessThanOrEqual(TOLERANCE_MS);

    t0 = Date.now();
    await c.ping(campaign(server, { timeout_ms: 200 }), pingBody, t0 + 1000);
    expect(Math.abs(Date.now() - t0 - 200)).toBeLessThanOrEqual(TOLERANCE_MS);

    const past = await c.ping(campaign(server), pingBody, Date.now() - 1);
    expect(past).toMatchObject({ kind: 'no_bid', reason: 'timeout' });
  });

  it('a bid slower than the deadline is a timeout, a bid inside it counts', async () => {
    const server = await buyer({ ping: bidding(10, { delayMs: 150 }) });
    const c = client();
    expect(await c.ping(campaign(server, { timeout_ms: 100 }), pingBody, far())).toMatchObject({ kind: 'no_bid', reason: 'timeout' });
    expect(await c.ping(campaign(server, { timeout_ms: 400 }), pingBody, far())).toMatchObject({ kind: 'bid', amount: 1000 });
  });

  it('reports a socket closed mid-answer as network', async () => {
    const server = await buyer({ ping: reply({ json: { bid: 12.5, bid_id: 'x' }, destroy: 'mid_body' }) });
    const outcome = await client().ping(campaign(server), pingBody, far());
    expect(outcome).toMatchObject({ kind: 'no_bid', reason: 'network' });
    expect(outcome.kind === 'no_bid' && outcome.detail).toBeTruthy();

    const early = await buyer({ ping: reply({ destroy: 'before_headers' }) });
    expect(await client().ping(campaign(early), pingBody, far())).toMatchObject({ kind: 'no_bid', reason: 'network' });
  });

  it('reports a refused connection as network with its code', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const url = `http://127.0.0.1:${port}`;
    const outcome = await client().ping(campaign({ pingUrl: `${url}/ping`, postUrl: `${url}/post` }), pingBody, far());
    expect(outcome).toMatchObject({ kind: 'no_bid', reason: 'network', detail: 'ECONNREFUSED' });
  });

  it('never throws on unusable campaigns', async () => {
    const c = client();
    const bad = campaign({ pingUrl: 'not a url', postUrl: 'ftp://x/post' });
    expect(await c.ping(bad, pingBody, far())).toMatchObject({ kind: 'no_bid', reason: 'network' });
    expect(await c.ping({ ...bad, ping_url: null }, pingBody, far())).toMatchObject({ kind: 'no_bid', reason: 'network' });
    expect(await c.post(bad, postBody, 'sale-1', far())).toMatchObject({ kind: 'failed', reason: 'network', attempts: 1 });
  });

  it('keeps connections alive: 50 sequential pings use at most 2 TCP connections', async () => {
    const server = await buyer({ ping: bidding(3) });
    const c = client();
    const cp = campaign(server);
    for (let i = 0; i < 50; i += 1) {
      expect(await c.ping(cp, pingBody, far())).toMatchObject({ kind: 'bid' });
    }
    expect(server.received.pings).toHaveLength(50);
    expect(server.connections).toBeLessThanOrEqual(2);
  });

  it('keeps the connection after non-2xx answers too', async () => {
    const server = await buyer({ ping: reply({ status: 500, json: { error: 'x' } }) });
    const c = client();
    for (let i = 0; i < 20; i += 1) await c.ping(campaign(server), pingBody, far());
    expect(server.connections).toBeLessThanOrEqual(2);
  });

  it('retain closes pools of dropped origins; close stops everything', async () => {
    const a = await buyer({ ping: bidding(1) });
    const b = await buyer({ ping: bidding(2) });
    const c = new HttpBuyerClient();
    await c.ping(campaign(a), pingBody, far());
    await c.ping(campaign(b), pingBody, far());
    await c.retain(new Set([originOf(a.pingUrl)!]));
    // a's pool survives (no new connection); b gets a fresh pool (new connection).
    await c.ping(campaign(a), pingBody, far());
    await c.ping(campaign(b), pingBody, far());
    expect(a.connections).toBe(1);
    expect(b.connections).toBe(2);
    await c.close();
    expect(await c.ping(campaign(a), pingBody, far())).toMatchObject({ kind: 'no_bid', reason: 'network' });
  });
});

describe('HttpBuyerClient.post', () => {
  it('posts with an idempotency key and returns accepted', async () => {
    const server = await buyer({ post: accepting({ buyerLeadId: 'bl-9', redirectUrl: 'https://buyer.example/t' }) });
    const outcome = await client().post(campaign(server), postBody, 'sale-1', far());
    expect(outcome).toMatchObject({ kind: 'accepted', buyerLeadId: 'bl-9', redirectUrl: 'https://buyer.example/t', attempts: 1 });
    const req = server.received.posts[0]!;
    expect(req.json).toEqual(postBody);
    expect(req.headers['idempotency-key']).toBe('sale-1');
    expect(req.headers['x-api-key']).toBe('k-123');
    expect(verifySignature('secret-abc', req.headers['x-leadex-timestamp'] as string, req.rawBody, req.headers['x-leadex-signature'] as string)).toBe(true);
  });

  it('a rejection is final: exactly one post', async () => {
    const server = await buyer({ post: rejecting('duplicate') });
    const outcome = await client().post(campaign(server), postBody, 'sale-2', far());
    expect(outcome).toMatchObject({ kind: 'rejected', reason: 'duplicate', attempts: 1 });
    await new Promise((r) => setTimeout(r, 200));
    expect(server.received.posts).toHaveLength(1);
  });

  it('a 4xx is a final failure: exactly one post', async () => {
    const server = await buyer({ post: reply({ status: 400, json: { error: 'bad' } }) });
    const outcome = await client({ postRetryBackoffMs: 10 }).post(campaign(server), postBody, 'sale-3', far());
    expect(outcome).toMatchObject({ kind: 'failed', reason: 'http_status', status: 400, attempts: 1 });
    expect(server.received.posts).toHaveLength(1);
  });

  it('retries a 503 with the same idempotency key, then accepts', async () => {
    const server = await buyer({ post: sequence(reply({ status: 503 }), accepting()) });
    const outcome = await client({ postRetryBackoffMs: 20 }).post(campaign(server), postBody, 'sale-4', far());
    expect(outcome).toMatchObject({ kind: 'accepted', attempts: 2 });
    expect(server.received.posts).toHaveLength(2);
    const [first, second] = server.received.posts;
    expect(first!.headers['idempotency-key']).toBe('sale-4');
    expect(second!.headers['idempotency-key']).toBe('sale-4');
    expect(second!.rawBody).toBe(first!.rawBody);
    // Backoff: the retry waited at least half the base.
    expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(10);
  });

  it('retries a network error, then accepts', async () => {
    const server = await buyer({ post: sequence(reply({ destroy: 'before_headers' }), accepting()) });
    const outcome = await client({ postRetryBackoffMs: 10 }).post(campaign(server), postBody, 'sale-5', far());
    expect(outcome).toMatchObject({ kind: 'accepted', attempts: 2 });
  });

  it('a buyer that always hangs fails with timeout by the deadline', async () => {
    const server = await buyer({ post: reply({ hang: true }) });
    const t0 = Date.now();
    const outcome = await client({ postRetryBackoffMs: 10 }).post(campaign(server), postBody, 'sale-6', t0 + 600);
    const elapsed = Date.now() - t0;
    expect(outcome).toMatchObject({ kind: 'failed', reason: 'timeout' });
    expect(outcome.attempts).toBeGreaterThanOrEqual(1);
    expect(elapsed).toBeLessThanOrEqual(600 + TOLERANCE_MS);
    expect(elapsed).toBeGreaterThanOrEqual(600 - TOLERANCE_MS);
  });

  it('a buyer that keeps failing slowly is retried until the deadline, never past it', async () => {
    // Each 503 arrives after 250 ms; the deadline leaves room for two or three attempts.
    const server = await buyer({ post: sequence(reply({ status: 503, delayMs: 250 })) });
    const t0 = Date.now();
    const outcome = await client({ postRetryBackoffMs: 10 }).post(campaign(server), postBody, 'sale-7', t0 + 700);
    const elapsed = Date.now() - t0;
    expect(outcome.kind).toBe('failed');
    expect(outcome.attempts).toBeGreaterThanOrEqual(2);
    expect(elapsed).toBeLessThanOrEqual(700 + TOLERANCE_MS);
    const keys = new Set(server.received.posts.map((p) => p.headers['idempotency-key']));
    expect([...keys]).toEqual(['sale-7']);
  });

  it('bounds the number of attempts', async () => {
    const server = await buyer({ post: reply({ status: 503 }) });
    const outcome = await client({ postRetryBackoffMs: 1, maxPostAttempts: 3 }).post(campaign(server), postBody, 'sale-9', far());
    expect(outcome).toMatchObject({ kind: 'failed', reason: 'http_status', status: 503, attempts: 3 });
    expect(server.received.posts).toHaveLength(3);
  });

  it('does not post at all when the deadline has already passed', async () => {
    const server = await buyer({ post: accepting() });
    const outcome = await client().post(campaign(server), postBody, 'sale-8', Date.now() - 1);
    expect(outcome).toMatchObject({ kind: 'failed', reason: 'timeout', attempts: 0 });
    expect(server.received.posts).toHaveLength(0);
  });
});
