// Section 3 endpoints are rate limited per affiliate: over the limit is a 429 problem with
// retry-after, the bucket is shared by every exchange node (it lives in Redis, leased a few
// tokens at a time by each node), and an operator can give one affiliate its own rate.
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { rateLimitOf } from '../../src/http/rate-limit.ts';
import { createLogger } from '../../src/log/logger.ts';
import { buildRuntime, type Runtime } from '../../src/runtime.ts';
import { RedisStore } from '../../src/store/redis-store.ts';
import type { Store, TokenRequest } from '../../src/store/store.ts';
import { countingStore, type CountingStore } from '../support/counting-store.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { ADMIN_TOKEN, sampleLead, startExchange, type CallResult, type TestExchange } from '../support/exchange.ts';
import { forgetRedisPrefix, TEST_REDIS_URL, uniqueName } from '../support/services.ts';
import { withStoreMethod } from '../support/store-method.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function expectTooMany(answer: CallResult): number {
  expect(answer.status).toBe(429);
  expect(answer.headers.get('content-type')).toContain('application/problem+json');
  expect(answer.body).toMatchObject({ status: 429, title: 'Too many requests', type: 'https://leadex.dev/problems/too-many-requests' });
  const retryAfter = Number(answer.headers.get('retry-after'));
  expect(Number.isInteger(retryAfter) && retryAfter >= 1).toBe(true);
  return retryAfter;
}

/** What the store was asked for the bucket of affiliate `id`. */
const tokenCalls = (counting: CountingStore, id: string) =>
  counting.calls.filter((c) => c.method === 'takeTokens' && (c.args[0] as TokenRequest).key === `affiliate:${id}`).map((c) => c.args[0] as TokenRequest);

/** Sends `total` requests, `workers` at a time; returns the statuses. */
async function load(total: number, workers: number, send: () => Promise<number>): Promise<number[]> {
  const statuses: number[] = [];
  let left = total;
  await Promise.all(Array.from({ length: workers }, async () => {
    while (left-- > 0) statuses.push(await send());
  }));
  return statuses;
}

/** The real store, whose token calls can be made to stay in flight a while (set `delay.ms`). */
function delayingTokens(store: Store, delay: { ms: number }): Store {
  return withStoreMethod(store, 'takeTokens', (takeTokens) => async (request: TokenRequest) => {
    if (delay.ms > 0) await sleep(delay.ms);
    return takeTokens(request);
  });
}

describe('one exchange node', () => {
  let exchange: TestExchange;
  let counting: CountingStore;
  const delay = { ms: 0 };

  beforeAll(async () => {
    // 1 request per second, 2 at once: concurrent requests find the bucket at the same level.
    exchange = await startExchange({
      label: 'ratelimit',
      affiliateRateLimit: { perSecond: 1, burst: 2 },
      wrapStore: (store) => (counting = countingStore(delayingTokens(store, delay))).store,
    });
    await exchange.admin.vertical();
  });

  afterAll(async () => {
    await exchange?.close();
  });

  const lead = (token: string) => exchange.call('POST', '/v1/leads', { token, body: sampleLead() });

  it('answers 429 with retry-after past the burst, and serves the affiliate again after waiting that long', async () => {
    const { api_key: key, id } = await exchange.admin.affiliate();
    const answers = await Promise.all(Array.from({ length: 5 }, () => lead(key)));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 429, 429, 429]);
    const retryAfter = Math.max(...answers.filter((a) => a.status === 429).map(expectTooMany));
    expect(retryAfter).toBe(1);
    expect(answers.find((a) => a.status === 429)!.body.detail).toContain(id);

    await sleep(retryAfter * 1000);
    expect((await lead(key)).status).toBe(200);
    // Refused requests were turned away before anything happened: two leads, then one more.
    const stored = await exchange.database.db.selectFrom('leads').select('id').where('affiliate_id', '=', id).execute();
    expect(stored).toHaveLength(3);
  });

  it('counts the direct post, ping and post endpoints in one bucket per affiliate', async () => {
    // A slow refill: three sequential calls must not see a token come back in between.
    const a = await exchange.admin.affiliate({ rate_limit_per_s: 0.25, rate_limit_burst: 2 });
    const b = await exchange.admin.affiliate();
    const data = sampleLead().data;
    expect((await exchange.call('POST', '/v1/ping', { token: a.api_key, body: { vertical: 'auto_insurance', data } })).status).toBe(200);
    expect((await exchange.call('POST', '/v1/post', { token: a.api_key, body: { ping_id: 'pg_nope', contact: {}, consent: {} } })).status).not.toBe(429);
    expectTooMany(await lead(a.api_key));
    // Another affiliate has its own bucket.
    expect((await lead(b.api_key)).status).toBe(200);
  });

  it('costs a low-rate affiliate one store call per request, for one token, and gives it exactly its burst', async () => {
    const { api_key: key, id } = await exchange.admin.affiliate({ rate_limit_per_s: 0.5, rate_limit_burst: 3 });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await lead(key)).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    // Each admitted request asked for one token, spent at once (no lease), as an unleased bucket
    // would; the refusals cost nothing: the last token's answer said when the next is back.
    const calls = tokenCalls(counting, id);
    expect(calls.map((c) => [c.wanted, c.holdUntilMs])).toEqual([[1, undefined], [1, undefined], [1, undefined]]);
  });

  // Past authentication the post endpoint costs nothing but the token: {} is a 400 once admitted.
  const cheap = (token: string) => exchange.call('POST', '/v1/post', { token, body: {} }).then((a) => a.status);

  it('costs an affiliate sending many requests a second few store calls: leases of many tokens', async () => {
    // The production default: 1000 per second, bursts of 2000.
    const { api_key: key, id } = await exchange.admin.affiliate({ rate_limit_per_s: 1000, rate_limit_burst: 2000 });
    const statuses = await load(1500, 16, () => cheap(key));
    expect(statuses.every((s) => s === 400)).toBe(true);
    const calls = tokenCalls(counting, id);
    expect(calls.length).toBeLessThan(1500 / 10);
    expect(Math.max(...calls.map((c) => c.wanted))).toBeGreaterThan(10);
  });

  it('makes requests that arrive while a lease call is in flight wait for that one call', async () => {
    const { api_key: key, id } = await exchange.admin.affiliate({ rate_limit_per_s: 1000, rate_limit_burst: 2000 });
    delay.ms = 300;
    try {
      const first = cheap(key);
      await sleep(50);
      const statuses = await Promise.all([first, ...Array.from({ length: 20 }, () => cheap(key))]);
      expect(statuses.every((s) => s === 400)).toBe(true);
    } finally {
      delay.ms = 0;
    }
    // The first request's call, then one for the twenty that waited for it.
    expect(tokenCalls(counting, id).length).toBeLessThanOrEqual(3);
  });

  it('is not what answers a wrong key: that is still 401', async () => {
    const answers = await Promise.all(Array.from({ length: 4 }, () => lead('lxa_not-a-key')));
    expect(answers.map((a) => a.status)).toEqual([401, 401, 401, 401]);
  });

  it('follows an affiliate\'s own rate_limit_per_s and rate_limit_burst, set and cleared through the admin API', async () => {
    // A bigger burst than the default's 2 (and a slow refill, so timing cannot blur the count).
    const generous = await exchange.admin.affiliate({ rate_limit_per_s: 0.5, rate_limit_burst: 6 });
    expect(await exchange.admin.request('GET', `/affiliates/${generous.id}`)).toMatchObject({ rate_limit_per_s: 0.5, rate_limit_burst: 6 });
    const statuses = (await Promise.all(Array.from({ length: 8 }, () => lead(generous.api_key)))).map((a) => a.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(6);

    const strict = await exchange.admin.affiliate({ rate_limit_per_s: 0.2 });
    expect((await lead(strict.api_key)).status).toBe(200);
    // Its own rate with no burst of its own: a burst of max(1, 2 × 0.2) = 1, and 5 s to refill.
    expect(expectTooMany(await lead(strict.api_key))).toBe(5);

    const cleared = await exchange.admin.request('PATCH', `/affiliates/${strict.id}`, { rate_limit_per_s: null });
    expect(cleared).toMatchObject({ rate_limit_per_s: null, rate_limit_burst: null });
  });

  it('refuses a rate or burst that is not one, naming the field', async () => {
    const answer = await exchange.call('POST', '/v1/admin/affiliates', {
      token: ADMIN_TOKEN,
      body: { name: 'A', payout: { type: 'fixed', amount: 1 }, rate_limit_per_s: 0, rate_limit_burst: 2.5 },
    });
    expect(answer.status).toBe(400);
    expect(answer.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['rate_limit_burst', 'rate_limit_per_s']);
  });
});

describe('two exchange nodes on one Redis', () => {
  let database: TestDatabase;
  const nodes: Array<{ runtime: Runtime; server: ServerType; url: string }> = [];
  // The nodes' keys (a consumer's memory lives 30 days) go when the tests end.
  const prefixes = new Set<string>();

  async function startNode(keyPrefix: string, affiliateRateLimit = { perSecond: 1, burst: 3 }): Promise<(typeof nodes)[number]> {
    prefixes.add(keyPrefix);
    const runtime = await buildRuntime({
      // Each node closes what it is given; the test drops the schema once, at the end.
      database: { ...database, close: async () => {} },
      store: new RedisStore({ url: TEST_REDIS_URL, keyPrefix }),
      log: createLogger({ level: 'silent' }),
      settings: { tmaxMs: 800, holdTtlMs: 30_000, postDeadlineMs: 5000 },
      affiliateRateLimit,
    });
    const app = createApp({ ...runtime.deps, adminToken: ADMIN_TOKEN });
    const server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: app.hono.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    const node = { runtime, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
    nodes.push(node);
    return node;
  }

  beforeAll(async () => {
    database = await createTestDatabase('ratelimit_nodes');
  });

  afterAll(async () => {
    for (const node of nodes) {
      await new Promise<void>((resolve) => node.server.close(() => resolve()));
      await node.runtime.close();
    }
    for (const prefix of prefixes) await forgetRedisPrefix(prefix);
    await database?.close();
  });

  it('draw from one bucket: what one node granted, the other does not grant again', async () => {
    const keyPrefix = `${uniqueName('ratelimit')}:`;
    const [a, b] = [await startNode(keyPrefix), await startNode(keyPrefix)];
    const post = (url: string, path: string, token: string, body: unknown) =>
      fetch(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    await post(a.url, '/v1/admin/verticals', ADMIN_TOKEN, { key: 'auto_insurance', fields: [{ name: 'state', type: 'string' }] });
    const affiliate = (await (await post(a.url, '/v1/admin/affiliates', ADMIN_TOKEN, { name: 'A', payout: { type: 'fixed', amount: 1 } })).json()) as { api_key: string };
    await b.runtime.deps.catalog.reload();

    const lead = { ...sampleLead(), data: { state: 'CA' } };
    const statuses = await Promise.all(Array.from({ length: 8 }, (_, i) => post(i % 2 === 0 ? a.url : b.url, '/v1/leads', affiliate.api_key, lead).then((r) => r.status)));
    expect(statuses.filter((s) => s === 200)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(5);
  });

  it('leasing from one bucket under concurrent load, let through no more than the bucket allows', async () => {
    const keyPrefix = `${uniqueName('ratelimit')}:`;
    // Big enough a burst for leases of up to 20 tokens.
    const limit = { perSecond: 300, burst: 400 };
    const [a, b] = [await startNode(keyPrefix, limit), await startNode(keyPrefix, limit)];
    const post = (url: string, path: string, token: string, body: unknown) =>
      fetch(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const affiliate = (await (await post(a.url, '/v1/admin/affiliates', ADMIN_TOKEN, { name: 'A', payout: { type: 'fixed', amount: 1 } })).json()) as { id: string; api_key: string };
    await b.runtime.deps.catalog.reload();

    // Each node's workers send back to back for 1.5 s; {} is a 400 once past the rate limit.
    const started = performance.now();
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: 16 }, async (_, i) => {
        const url = i % 2 === 0 ? a.url : b.url;
        while (performance.now() - started < 1500) statuses.push((await post(url, '/v1/post', affiliate.api_key, {})).status);
      }),
    );
    const elapsedS = (performance.now() - started) / 1000;

    expect(new Set(statuses)).toEqual(new Set([400, 429]));
    const admitted = statuses.filter((s) => s === 400).length;
    expect(admitted).toBeLessThanOrEqual(limit.burst + limit.perSecond * elapsedS);
    // Not much stricter either: the burst and a good part of what refilled meanwhile (or all that
    // was sent, on a machine too busy to send more than the limit).
    expect(admitted).toBeGreaterThanOrEqual(Math.min(statuses.length, limit.burst + 0.5 * limit.perSecond * (elapsedS - 0.25)));
  });
});

describe('which limit applies to an affiliate', () => {
  const base = { id: 'af_1', name: 'A', payout: { type: 'fixed' as const, amount: 1 }, status: 'active' as const };
  const fallback = { perSecond: 10, burst: 20 };

  it('the configured default when the affiliate has none of its own', () => {
    expect(rateLimitOf(base, fallback)).toEqual(fallback);
    expect(rateLimitOf({ ...base, rate_limit_per_s: null, rate_limit_burst: null }, fallback)).toEqual(fallback);
  });

  it('its own rate, with a burst of two seconds of it unless it has its own burst too', () => {
    expect(rateLimitOf({ ...base, rate_limit_per_s: 3 }, fallback)).toEqual({ perSecond: 3, burst: 6 });
    expect(rateLimitOf({ ...base, rate_limit_per_s: 0.1 }, fallback)).toEqual({ perSecond: 0.1, burst: 1 });
    expect(rateLimitOf({ ...base, rate_limit_per_s: 3, rate_limit_burst: 50 }, fallback)).toEqual({ perSecond: 3, burst: 50 });
    expect(rateLimitOf({ ...base, rate_limit_burst: 50 }, fallback)).toEqual({ perSecond: 10, burst: 50 });
  });

  it('its own rate even when the default is off, and no limit when neither is set', () => {
    expect(rateLimitOf({ ...base, rate_limit_per_s: 5 }, null)).toEqual({ perSecond: 5, burst: 10 });
    expect(rateLimitOf(base, null)).toBeNull();
    expect(rateLimitOf({ ...base, rate_limit_burst: 5 }, null)).toBeNull();
  });
});
