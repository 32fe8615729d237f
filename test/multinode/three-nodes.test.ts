// Operators scale leadex with stateless nodes behind a load balancer: three real exchange
// processes on one Postgres and one Redis, traffic spread over all three at once. Every buyer
// control must hold exactly as on one node.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accepting, bidding, startBuyerServer, type BuyerServer } from '../support/buyer-server.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startExchangeProcess, urlWithSchema, type ExchangeProcess } from '../support/exchange-process.ts';
import { sampleLead } from '../support/exchange.ts';
import { forgetRedisPrefix, TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from '../support/services.ts';

const ADMIN = 'multinode-admin-token-0123';
let database: TestDatabase;
let nodes: ExchangeProcess[] = [];
const servers: BuyerServer[] = [];

async function call(node: ExchangeProcess, method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(`${node.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

async function admin(method: string, path: string, body?: unknown): Promise<any> {
  const answer = await call(nodes[0]!, method, `/v1/admin${path}`, ADMIN, body);
  if (answer.status >= 300) throw new Error(`${method} ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body;
}

async function activateOnly(ids: string[]): Promise<void> {
  const list = await admin('GET', '/campaigns?limit=100');
  for (const c of list.items) {
    const wanted = ids.includes(c.id);
    if ((c.status === 'active') !== wanted) await admin('PATCH', `/campaigns/${c.id}`, { status: wanted ? 'active' : 'paused' });
  }
  // Changes reach the other nodes over Redis within a second.
  await new Promise((resolve) => setTimeout(resolve, 1000));
}

async function campaign(fields: Record<string, unknown>, buyer: Record<string, unknown> = {}, bid = 10) {
  const server = await startBuyerServer({ ping: bidding(bid, { delayMs: 5 }), post: accepting({ delayMs: 5 }) });
  servers.push(server);
  const account = await admin('POST', '/buyers', { name: 'Buyer', ...buyer });
  const created = await admin('POST', '/campaigns', {
    buyer_id: account.id, name: 'C', vertical: 'auto_insurance', mode: 'exclusive', pricing: { type: 'bid' },
    ping_url: server.pingUrl, post_url: server.postUrl, timeout_ms: 5000, ...fields,
  });
  return { server, buyerId: account.id as string, id: created.id as string };
}

/** `count` leads at once, round-robin over the nodes. */
function spread(token: string, count: number, lead: () => Record<string, unknown> = sampleLead) {
  return Promise.all(Array.from({ length: count }, (_, i) => call(nodes[i % nodes.length]!, 'POST', '/v1/leads', token, lead())));
}

async function salesOf(campaignId: string): Promise<Array<{ price_cents: number; created_at: Date; buyer_id: string }>> {
  return database.db.selectFrom('sales').select(['price_cents', 'created_at', 'buyer_id']).where('campaign_id', '=', campaignId).orderBy('created_at').execute();
}

let affiliateKey: string;

const redisPrefix = `${uniqueName('multinode')}:`;

beforeAll(async () => {
  database = await createTestDatabase('multinode');
  const env = {
    DATABASE_URL: urlWithSchema(TEST_DATABASE_URL, database.schema),
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: redisPrefix,
    ADMIN_TOKEN: ADMIN,
    // Generous deadlines: these tests are about exact counts, not speed, and share 2 cores.
    AUCTION_TMAX_MS: '5000',
  };
  nodes = await Promise.all([0, 1, 2].map(() => startExchangeProcess(env)));
  await admin('POST', '/verticals', {
    key: 'auto_insurance',
    fields: [{ name: 'state', type: 'string', required: true }, { name: 'zip', type: 'string', required: true }, { name: 'age', type: 'integer', required: true }, { name: 'credit', type: 'string' }],
  });
  affiliateKey = (await admin('POST', '/affiliates', { name: 'A', payout: { type: 'revshare', percent: 80 } })).api_key;
  // The affiliate created on node 0 must be known to the others before traffic starts.
  await new Promise((resolve) => setTimeout(resolve, 1000));
}, 90_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
  await Promise.all(servers.map((s) => s.close()));
  await database?.close();
  await forgetRedisPrefix(redisPrefix);
});

describe('three exchange nodes on one Postgres and one Redis', () => {
  it('see an admin change made on one node within a second', async () => {
    const c = await campaign({});
    const started = Date.now();
    await admin('PATCH', `/campaigns/${c.id}`, { status: 'paused' });
    for (const node of nodes.slice(1)) {
      for (;;) {
        const status = await call(node, 'GET', `/v1/admin/campaigns/${c.id}/status`, ADMIN);
        if (status.body?.status === 'paused') break;
        expect(Date.now() - started).toBeLessThan(1000);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  });

  it('a day cap of N sells exactly N', async () => {
    const N = 12;
    const c = await campaign({ caps: [{ period: 'day', leads: N }] });
    await activateOnly([c.id]);

    const answers = await spread(affiliateKey, 5 * N);

    expect(answers.filter((a) => a.status !== 200).map((a) => a.body)).toEqual([]);
    expect(answers.filter((a) => a.body.status === 'sold')).toHaveLength(N);
    expect(await salesOf(c.id)).toHaveLength(N);
    expect(c.server.received.posts).toHaveLength(N);
  });

  it('a budget of B is never overspent by a cent', async () => {
    // $100 at $7.77 a lead: 12 sales ($93.24) fit, a 13th would be $101.01.
    const c = await campaign({ pricing: { type: 'bid', max_bid: 7.77 } }, { balance: 100 }, 7.77);
    await activateOnly([c.id]);

    const answers = await spread(affiliateKey, 45);

    const spent = (await salesOf(c.id)).reduce((sum, s) => sum + s.price_cents, 0);
    expect(spent).toBeLessThanOrEqual(10_000);
    expect(spent).toBe(12 * 777);
    expect(answers.filter((a) => a.body.status === 'sold')).toHaveLength(12);
  });

  it('one consumer sent to three nodes at once is sold to one buyer only when exclusive', async () => {
    const a = await campaign({}, {}, 30);
    const b = await campaign({}, {}, 20);
    await activateOnly([a.id, b.id]);
    const affiliates = [affiliateKey, ...(await Promise.all([1, 2].map(async () => (await admin('POST', '/affiliates', { name: 'X', payout: { type: 'fixed', amount: 1 } })).api_key)))];
    await new Promise((resolve) => setTimeout(resolve, 1000));

    for (let round = 0; round < 5; round++) {
      const consumer = sampleLead();
      const answers = await Promise.all(nodes.map((node, i) => call(node, 'POST', '/v1/leads', affiliates[i]!, { ...sampleLead(), contact: consumer.contact })));
      expect(answers.map((x) => x.body.status).sort()).toEqual(['duplicate', 'duplicate', 'sold']);
    }
    expect(a.server.received.posts.length + b.server.received.posts.length).toBe(5);
  });

  it('one consumer sent to three nodes at once is sold at most once per buyer when shared', async () => {
    const shared = await Promise.all([12, 11, 10].map((bid) => campaign({ mode: 'shared' }, {}, bid)));
    await activateOnly(shared.map((s) => s.id));
    const others = await Promise.all([1, 2].map(async () => (await admin('POST', '/affiliates', { name: 'Y', payout: { type: 'fixed', amount: 1 } })).api_key));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const affiliates = [affiliateKey, ...others];

    const consumer = sampleLead();
    await Promise.all(nodes.map((node, i) => call(node, 'POST', '/v1/leads', affiliates[i]!, { ...sampleLead(), contact: consumer.contact })));

    const sales = await database.db.selectFrom('sales').select('buyer_id').where('campaign_id', 'in', shared.map((s) => s.id)).execute();
    expect(sales.length).toBe(3);
    expect(new Set(sales.map((s) => s.buyer_id)).size).toBe(sales.length);
  });

  it('a ping is posted on whichever node the post reaches, and the consumer is screened there the same', async () => {
    const c = await campaign({}, {}, 25);
    await activateOnly([c.id]);
    const consumer = sampleLead();
    // No contact hashes at ping time: the consumer is only known, and screened, at the post.
    const twoPhase = async (pingNode: ExchangeProcess, postNode: ExchangeProcess) => {
      const lead = sampleLead({ contact: consumer.contact });
      const ping = await call(pingNode, 'POST', '/v1/ping', affiliateKey, { vertical: lead.vertical, data: lead.data });
      expect(ping.body).toMatchObject({ status: 'bid' });
      return call(postNode, 'POST', '/v1/post', affiliateKey, { ping_id: ping.body.ping_id, contact: lead.contact, consent: lead.consent });
    };

    // Pinged on one node, posted on another: that node learns the hold from the store.
    expect((await twoPhase(nodes[0]!, nodes[1]!)).body).toMatchObject({ status: 'sold', buyers: 1 });
    // The same consumer again, posted on another node than its ping, then on the node of its ping.
    expect((await twoPhase(nodes[1]!, nodes[2]!)).body).toMatchObject({ status: 'duplicate', reasons: ['duplicate_consumer'] });
    expect((await twoPhase(nodes[2]!, nodes[2]!)).body).toMatchObject({ status: 'duplicate', reasons: ['duplicate_consumer'] });
    expect(c.server.received.posts).toHaveLength(1);
  });

  it('pacing of 30 a minute admits 30 (±1) in a minute across the nodes', async () => {
    const c = await campaign({ max_per_minute: 30 });
    await activateOnly([c.id]);

    // Leads at about 10 a second, round-robin over the nodes, for a little over a minute.
    const stopAt = Date.now() + 63_000;
    const sends: Array<Promise<unknown>> = [];
    for (let i = 0; Date.now() < stopAt; i++) {
      sends.push(call(nodes[i % 3]!, 'POST', '/v1/leads', affiliateKey, sampleLead()));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await Promise.all(sends);

    const times = (await salesOf(c.id)).map((s) => new Date(s.created_at).getTime());
    const first = times[0]!;
    const inFirstMinute = times.filter((t) => t < first + 60_000).length;
    expect(inFirstMinute).toBeGreaterThanOrEqual(29);
    expect(inFirstMinute).toBeLessThanOrEqual(31);
    // Smooth, not a burst: no two sales closer than most of the 2 s interval.
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(Math.min(...gaps)).toBeGreaterThan(1500);
  }, 90_000);
});
