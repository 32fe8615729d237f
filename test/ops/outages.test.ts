// Section 8 under real outages: a Redis and a Postgres of this test's own are killed and started
// again while affiliates keep sending leads. While one is down the lead endpoints answer 503
// problem+json quickly and /readyz is 503; once it is back leads sell again without restarting
// the exchange; and at the end the books balance exactly — every post a buyer accepted is a
// recorded sale with a 200 `sold` answer, and the cap counters count exactly the recorded sales.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accepting, bidding, rejecting, startBuyerServer, type BuyerServer, type Handler } from '../support/buyer-server.ts';
import { startExchange, type TestExchange } from '../support/exchange.ts';
import { startOwnPostgres, startOwnRedis, type OwnService } from '../support/own-services.ts';
import { leadOutcomes, startTraffic, waitFor, type Traffic, type TrafficAnswer } from '../support/traffic.ts';

const TMAX_MS = 400;

let redis: OwnService;
let postgres: OwnService;
let exchange: TestExchange;
let affiliateKey: string;
const servers: BuyerServer[] = [];
/** Per campaign: the sale ids (Idempotency-Key) of the posts its buyer accepted. */
const accepted = new Map<string, Set<string>>();

/** Accepts every post but each `refuseEvery`-th, remembering the sale id of what it accepted. */
function acceptingPosts(campaignKey: string, refuseEvery = 0): Handler {
  const ids = new Set<string>();
  accepted.set(campaignKey, ids);
  let count = 0;
  const accept = accepting();
  const refuse = rejecting('not this one');
  return (req) => {
    count += 1;
    if (refuseEvery > 0 && count % refuseEvery === 0) return refuse(req);
    ids.add(String(req.headers['idempotency-key']));
    return accept(req);
  };
}

beforeAll(async () => {
  // Durable like a production Redis holding caps: a crash keeps what it acknowledged.
  [redis, postgres] = await Promise.all([startOwnRedis({ durable: true }), startOwnPostgres()]);
  exchange = await startExchange({ label: 'outages', databaseUrl: postgres.url, redisUrl: redis.url, settings: { tmaxMs: TMAX_MS, postDeadlineMs: 5000 } });
  await exchange.admin.vertical();
  affiliateKey = (await exchange.admin.affiliate()).api_key;
  const caps = [
    { period: 'day', leads: 100_000 },
    { period: 'day', spend: 1_000_000 },
  ];
  // The better bidder refuses every fifth post, so fallbacks and their releases happen too.
  for (const [key, amount, refuseEvery] of [
    ['best', 20, 5],
    ['fallback', 12, 0],
  ] as const) {
    const server = await startBuyerServer({ ping: bidding(amount, { delayMs: 5 }), post: acceptingPosts(key, refuseEvery) });
    servers.push(server);
    const buyer = await exchange.admin.buyer({ balance: 1_000_000 });
    const campaign = await exchange.admin.campaign({ buyer_id: buyer.id, ping_url: server.pingUrl, post_url: server.postUrl, caps });
    accepted.set(campaign.id, accepted.get(key)!);
  }
}, 120_000);

afterAll(async () => {
  await exchange?.close();
  await Promise.all(servers.map((s) => s.close()));
  await Promise.all([redis?.destroy(), postgres?.destroy()]);
});

interface Readiness {
  at: number;
  status: number;
  checks: Record<string, string>;
}

function pollReadiness(): { samples: Readiness[]; stop(): Promise<void> } {
  const samples: Readiness[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const at = Date.now();
      const answer = await exchange.call('GET', '/readyz');
      samples.push({ at, status: answer.status, checks: answer.body.checks });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    samples,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

interface OutageWindow {
  stoppedAt: number;
  restartedAt: number;
}

/** Stops the service under traffic, keeps it down a while, starts it again, and waits for sales. */
async function outage(service: OwnService, name: string, traffic: Traffic, readiness: Readiness[]): Promise<OutageWindow> {
  const stoppedAt = Date.now();
  await service.stop();
  await waitFor(() => traffic.answers.some((a) => a.startedAt > stoppedAt && a.status === 503), 10_000, `503s while ${name} is down`);
  await waitFor(() => readiness.some((r) => r.at > stoppedAt && r.status === 503 && r.checks[name] !== 'ok'), 10_000, `/readyz to report ${name}`);
  // The outage lasts, under traffic, well beyond the time it takes to notice it.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const restartedAt = Date.now();
  await service.start();
  // No restart of the exchange: it finds the service again by itself.
  await waitFor(() => traffic.answers.some((a) => a.startedAt > restartedAt && a.status === 200 && a.body.status === 'sold'), 15_000, `a sale after ${name} came back`);
  await waitFor(() => readiness.some((r) => r.at > restartedAt && r.status === 200), 10_000, `/readyz to be ready after ${name} came back`);
  return { stoppedAt, restartedAt };
}

const during = (answers: TrafficAnswer[], window: OutageWindow) => answers.filter((a) => a.startedAt >= window.stoppedAt && a.endedAt <= window.restartedAt);

describe('Redis and Postgres outages under continuous traffic', () => {
  it('answer 503 fast while down, sell again after, and lose or double no sale', async () => {
    const traffic = startTraffic({ baseUrl: exchange.url, token: affiliateKey, workers: 6, twoPhaseEvery: 3 });
    const readiness = pollReadiness();
    let redisDown: OutageWindow;
    let postgresDown: OutageWindow;
    try {
      await waitFor(() => leadOutcomes(traffic.answers).filter((a) => a.body.status === 'sold').length >= 20, 20_000, 'sales before any outage');
      redisDown = await outage(redis, 'redis', traffic, readiness.samples);
      postgresDown = await outage(postgres, 'postgres', traffic, readiness.samples);
      // A little more traffic after both came back.
      const after = traffic.answers.length;
      await waitFor(() => traffic.answers.length >= after + 20, 20_000, 'traffic after the outages');
    } finally {
      await traffic.stop();
      await readiness.stop();
    }
    const answers = traffic.answers;

    // Every answer is an outcome or a 503 problem, never a 500, never a dropped connection.
    const unexpected = answers.filter((a) => a.status !== 200 && a.status !== 503);
    expect(unexpected).toEqual([]);
    const refusals = answers.filter((a) => a.status === 503);
    for (const refusal of refusals) {
      expect(refusal.contentType).toBe('application/problem+json');
      expect(refusal.body).toMatchObject({ status: 503, title: 'Service unavailable' });
    }
    // Each outage was answered with 503s, and readiness said so.
    for (const window of [redisDown, postgresDown]) {
      expect(during(answers, window).filter((a) => a.status === 503).length).toBeGreaterThan(5);
      expect(readiness.samples.some((r) => r.at >= window.stoppedAt && r.at < window.restartedAt && r.status === 503)).toBe(true);
    }
    // Quickly: no refusal waits more than the ping phase plus the one store timeout that rides
    // out a blip; most are refused up front by the health gate.
    const latencies = refusals.map((a) => a.endedAt - a.startedAt).sort((x, y) => x - y);
    expect(latencies.at(-1)!).toBeLessThan(2000);
    expect(latencies[Math.floor(latencies.length / 2)]!).toBeLessThan(100);

    // Answers do not wait for the calls that commit their sales: those first, then their retries.
    await exchange.runtime.deps.commits.landed();
    await waitFor(() => exchange.runtime.deps.commits.pending === 0, 10_000, 'pending cap commits to land');
    await exchange.runtime.deps.audit.flush();
    const db = exchange.database.db;

    // The books: buyers' accepted posts = recorded sales = sales in `sold` answers.
    const outcomes = leadOutcomes(answers);
    const leads = await db.selectFrom('leads').select(['id', 'status']).execute();
    const sales = await db.selectFrom('sales').select(['id', 'lead_id', 'campaign_id', 'price_cents']).execute();
    expect(new Map(leads.map((l) => [l.id, l.status]))).toEqual(new Map(outcomes.map((a) => [a.body.lead_id, a.body.status])));
    const acceptedIds = [...accepted.entries()].filter(([key]) => key.startsWith('cp_')).flatMap(([, ids]) => [...ids]);
    expect(new Set(sales.map((s) => s.id))).toEqual(new Set(acceptedIds));
    expect(sales).toHaveLength(acceptedIds.length);
    const soldAnswers = outcomes.filter((a) => a.body.status === 'sold');
    expect(sales).toHaveLength(soldAnswers.reduce((n, a) => n + a.body.buyers, 0));
    expect(new Set(sales.map((s) => s.lead_id))).toEqual(new Set(soldAnswers.map((a) => a.body.lead_id)));
    expect(new Set(sales.map((s) => s.lead_id)).size).toBe(sales.length);

    // The event log kept what happened during the database outage: every answered lead has its
    // outcome event.
    const endings = await db.selectFrom('events').select(['lead_id', 'type']).where('type', 'in', ['lead.sold', 'lead.unsold', 'lead.rejected']).execute();
    const endingOf = new Map(endings.map((e) => [e.lead_id, e.type]));
    for (const outcome of outcomes) expect(endingOf.get(outcome.body.lead_id)).toBe(outcome.body.status === 'sold' ? 'lead.sold' : 'lead.unsold');

    // Caps count exactly the recorded sales once the reservations of failed auctions have
    // expired: run the sweep as it will run then (nothing is in flight any more).
    await exchange.store.releaseExpired(Date.now() + 10 * 60_000, 100_000);
    for (const campaignId of accepted.keys()) {
      if (!campaignId.startsWith('cp_')) continue;
      const own = sales.filter((s) => s.campaign_id === campaignId);
      const status = await exchange.admin.request('GET', `/campaigns/${campaignId}/status`);
      expect(status.caps).toEqual([
        expect.objectContaining({ measure: 'leads', used: own.length }),
        expect.objectContaining({ measure: 'spend', used: own.reduce((sum, s) => sum + s.price_cents, 0) / 100 }),
      ]);
    }
  }, 120_000);
});
