// Graceful shutdown of the real process: SIGTERM in the middle of traffic lets the auctions in
// flight finish (their buyers may already hold the lead), answers them, flushes their events,
// refuses what comes after, and exits 0 within the bound of one auction.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Client } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bidding, accepting, startBuyerServer, type BuyerServer, type Handler } from '../support/buyer-server.ts';
import { freePort } from '../support/own-services.ts';
import { forgetRedisPrefix, TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from '../support/services.ts';
import { leadOutcomes, startTraffic, waitFor } from '../support/traffic.ts';

const ADMIN = 'shutdown-test-admin-token';
const TMAX_MS = 500;
const POST_DEADLINE_MS = 3000;
/** What main.ts allows in-flight requests (src/exchange/recording.ts longestAnswerMs + 1 s). */
const DRAIN_BOUND_MS = TMAX_MS + 2 * POST_DEADLINE_MS + 1000;

const schema = uniqueName('shutdown');
let buyer: BuyerServer;
const acceptedSales = new Set<string>();

async function admin(sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  await admin(`create schema ${schema}`);
  // Slow posts: at any moment several auctions are past the point of no return, and they last
  // longer than the grace shutdown gives idle connections.
  const post: Handler = (req) => {
    acceptedSales.add(String(req.headers['idempotency-key']));
    return accepting({ delayMs: 1200 })(req);
  };
  buyer = await startBuyerServer({ ping: bidding(15, { delayMs: 20 }), post });
});

afterAll(async () => {
  await buyer?.close();
  await admin(`drop schema if exists ${schema} cascade`);
  await forgetRedisPrefix(`${schema}:`);
});

describe('SIGTERM during traffic', () => {
  it('answers and records every accepted lead with its events, refuses the rest, and exits 0', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const databaseUrl = new URL(TEST_DATABASE_URL);
    databaseUrl.searchParams.set('options', `-c search_path=${schema}`);
    const child = spawn(process.execPath, ['src/main.ts'], {
      env: {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: databaseUrl.toString(),
        REDIS_URL: TEST_REDIS_URL,
        REDIS_KEY_PREFIX: `${schema}:`,
        ADMIN_TOKEN: ADMIN,
        AUCTION_TMAX_MS: String(TMAX_MS),
        POST_DEADLINE_MS: String(POST_DEADLINE_MS),
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<{ code: number | null; at: number }>((resolve) => child.on('exit', (code) => resolve({ code, at: Date.now() })));

    try {
      await waitFor(async () => (await fetch(`${base}/readyz`).catch(() => null))?.status === 200, 30_000, 'leadex to be ready');
      const operator = async (path: string, body: unknown) => {
        const response = await fetch(`${base}/v1/admin${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        expect(response.status).toBe(201);
        return (await response.json()) as any;
      };
      await operator('/verticals', {
        key: 'auto_insurance',
        fields: [
          { name: 'state', type: 'string', required: true },
          { name: 'zip', type: 'string', required: true },
          { name: 'age', type: 'integer', required: true },
          { name: 'credit', type: 'string' },
        ],
      });
      const affiliate = await operator('/affiliates', { name: 'A', payout: { type: 'revshare', percent: 80 } });
      const account = await operator('/buyers', { name: 'B', balance: 100_000 });
      await operator('/campaigns', {
        buyer_id: account.id,
        name: 'C',
        vertical: 'auto_insurance',
        mode: 'exclusive',
        pricing: { type: 'bid' },
        ping_url: buyer.pingUrl,
        post_url: buyer.postUrl,
        caps: [{ period: 'day', leads: 100_000 }],
      });

      const traffic = startTraffic({ baseUrl: base, token: affiliate.api_key, workers: 8, twoPhaseEvery: 4, stopOnNetworkError: true });
      await waitFor(() => leadOutcomes(traffic.answers).filter((a) => a.body.status === 'sold').length >= 8, 20_000, 'sales before SIGTERM');

      const signalledAt = Date.now();
      child.kill('SIGTERM');
      const exit = await exited;
      await traffic.stop();

      expect(exit.code).toBe(0);
      expect(exit.at - signalledAt).toBeLessThan(DRAIN_BOUND_MS + 3000);
      expect(output).toMatch(/"drained":true[^\n]*"msg":"stopped"/);

      const answers = traffic.answers;
      // In flight at the signal, answered after it: the shutdown waited for them.
      expect(leadOutcomes(answers).some((a) => a.startedAt < signalledAt && a.endedAt > signalledAt)).toBe(true);
      // Nothing sent before the signal was cut; what came after was refused (503) or found the
      // door closed.
      for (const answer of answers) {
        if (answer.status === 200) continue;
        if (answer.status === 503) expect(answer.body).toMatchObject({ status: 503, detail: expect.stringContaining('shutting down') });
        else expect(answer).toMatchObject({ status: 0, startedAt: expect.toSatisfy((at: number) => at >= signalledAt) });
      }

      // Every 200 is in Postgres with its outcome event; nothing was recorded without its answer;
      // every post the buyer accepted is a sale in a `sold` answer.
      const outcomes = leadOutcomes(answers);
      const leads = await admin(`select id, status from ${schema}.leads`);
      expect(new Map(leads.rows.map((l) => [l.id, l.status]))).toEqual(new Map(outcomes.map((a) => [a.body.lead_id, a.body.status])));
      const sales = await admin(`select id, lead_id from ${schema}.sales`);
      expect(new Set(sales.rows.map((s) => s.id))).toEqual(acceptedSales);
      expect(new Set(sales.rows.map((s) => s.lead_id))).toEqual(new Set(outcomes.filter((a) => a.body.status === 'sold').map((a) => a.body.lead_id)));
      const endings = await admin(`select lead_id, type from ${schema}.events where type in ('lead.sold', 'lead.unsold')`);
      const endingOf = new Map(endings.rows.map((e) => [e.lead_id, e.type]));
      for (const outcome of outcomes) expect(endingOf.get(outcome.body.lead_id)).toBe(`lead.${outcome.body.status === 'sold' ? 'sold' : 'unsold'}`);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 90_000);

  it('answers, not resets, a request that comes over a kept-alive connection just after the signal', async () => {
    // server.close() drops idle connections at once; a request already on its way over one would
    // meet a reset. For a moment after the signal the server keeps them and refuses such requests.
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'leadex-shutdown-'));
    const child = spawn(process.execPath, ['src/main.ts'], {
      env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'warn', DATABASE_URL: '', REDIS_URL: '' },
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const connection = new Client(`http://127.0.0.1:${port}`);
    try {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.status === 200, 30_000, 'leadex to be ready');
      const ready = await connection.request({ method: 'GET', path: '/readyz' });
      expect(ready.statusCode).toBe(200);
      await ready.body.dump();

      child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 30));
      const late = await connection.request({ method: 'GET', path: '/readyz' });
      await late.body.dump();

      expect(late.statusCode).toBe(503);
      expect(await exited).toBe(0);
    } finally {
      await connection.close().catch(() => {});
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
