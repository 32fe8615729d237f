// A real leadex for the bench: `node src/main.ts` in a child process on its own fresh Postgres
// database and Redis key prefix, configured through the admin API with one vertical, one
// affiliate, and one buyer + bid campaign per fleet buyer (each with a generous daily cap, so the
// cap path runs on every auction without ever stopping one).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { flagsFromEnv, freePort, spawnNode, type Child } from './child.ts';
import type { FleetBuyer } from './buyer-fleet.ts';
// The tests' own cleanup of a key prefix (glob characters in it escaped), pointed at the bench's Redis.
import { forgetRedisPrefix } from '../test/support/services.ts';

export const BENCH_DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const BENCH_REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const ADMIN_TOKEN = 'bench-admin-token-0123456789';
/** The leadex checkout to run: this one, or another (e.g. a `git worktree` of another commit). */
const ROOT = process.env.BENCH_LEADEX_ROOT ?? fileURLToPath(new URL('..', import.meta.url));

/** The Node flags `npm start` gives leadex (the checkout's own package.json), so the bench runs what operators run. */
function startFlags(root: string): string[] {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts?: { start?: string } };
  const words = (pkg.scripts?.start ?? '').split(/\s+/).filter(Boolean);
  const script = words.indexOf('src/main.ts');
  if (words[0] !== 'node' || script < 0) throw new Error(`cannot read the Node flags of npm start: ${pkg.scripts?.start}`);
  return words.slice(1, script);
}

export const VERTICAL = {
  key: 'auto_insurance',
  fields: [
    { name: 'state', type: 'string', required: true },
    { name: 'zip', type: 'string', required: true },
    { name: 'age', type: 'integer', required: true },
    { name: 'credit', type: 'string', enum: ['poor', 'fair', 'good', 'excellent'] },
  ],
};

export interface LeadexOptions {
  buyers: FleetBuyer[];
  /** Extra node flags, e.g. ['--cpu-prof', '--cpu-prof-dir=load/results/prof']. */
  nodeArgs?: string[];
  /** Extra environment for the leadex process (e.g. EVENT_FLUSH_MS). */
  env?: Record<string, string>;
  /** Campaign ping timeout (default 500 ms, the campaign default). */
  timeoutMs?: number;
  label?: string;
  /** The checkout to run, if not BENCH_LEADEX_ROOT's (load/ablate.ts's `at:<rev>` variants). */
  root?: string;
}

export interface Leadex {
  url: string;
  pid: number;
  apiKey: string;
  database: string;
  campaignIds: string[];
  child: Child;
  /** SIGTERM: leadex stops accepting, finishes in-flight auctions and flushes its audit log. */
  stop(): Promise<number | null>;
  /** Row counts in the bench database (call after stop() for a complete audit log). */
  census(): Promise<Census>;
  /**
   * "<ping id> <campaign id>" of every campaign.pinged event, the ping id found through any
   * table that maps the event's lead to its ping (bids, pings, leads).
   */
  pingedKeys(): Promise<Set<string>>;
  /** Drops the bench database and the Redis keys. */
  drop(): Promise<void>;
  /** pino records at warn level or worse that leadex printed. */
  warnings(): Array<Record<string, any>>;
}

export interface Census {
  events: Record<string, number>;
  /** campaign.pinged events by "outcome/reason" (e.g. "bid", "no_bid/timeout"). */
  pinged: Record<string, number>;
  leads: Record<string, number>;
  sales: number;
  pings: number;
}

function databaseUrl(name: string): string {
  const url = new URL(BENCH_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: BENCH_DATABASE_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A fresh `leadex_bench_<label>_<suffix>` database (leadex's, or the floor's for FLOOR_IO=record); drop() removes it. */
export async function scratchDatabase(label: string, suffix = randomBytes(4).toString('hex')): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `leadex_bench_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${suffix}`;
  await adminQuery(`create database ${name}`);
  return { name, url: databaseUrl(name), drop: () => adminQuery(`drop database if exists ${name} with (force)`) };
}

export async function startLeadex(options: LeadexOptions): Promise<Leadex> {
  const suffix = randomBytes(4).toString('hex');
  const scratch = await scratchDatabase(options.label ?? 'run', suffix);
  const database = scratch.name;
  // An env: variant of load/ablate.ts may ask for a prefix of its own (to weigh key length): it
  // goes inside the run's, so drop() forgets exactly what this leadex wrote and nothing a
  // developer's own leadex keeps under that prefix in the same Redis.
  const keyPrefix = `bench_${suffix}:${options.env?.REDIS_KEY_PREFIX ?? ''}`;
  let child: Child | undefined;
  const drop = async () => {
    if (process.env.BENCH_KEEP_DB === '1') {
      // Kept to read the lead timelines afterwards; its Redis keys go, they only hold counters.
      process.stderr.write(`kept database ${database} (BENCH_KEEP_DB=1): drop it when done\n`);
      await forgetRedisPrefix(keyPrefix, BENCH_REDIS_URL).catch(() => {});
      return;
    }
    await scratch.drop().catch((error: unknown) => {
      process.stderr.write(`could not drop ${database}: ${String(error)}\n`);
    });
    await forgetRedisPrefix(keyPrefix, BENCH_REDIS_URL).catch(() => {});
  };

  try {
    const port = await freePort();
    child = spawnNode({
      script: 'src/main.ts',
      cwd: options.root ?? ROOT,
      nodeArgs: [...startFlags(options.root ?? ROOT), ...flagsFromEnv('BENCH_LEADEX_NODE_ARGS'), ...(options.nodeArgs ?? [])],
      env: {
        DATABASE_URL: databaseUrl(database),
        REDIS_URL: BENCH_REDIS_URL,
        ADMIN_TOKEN,
        LOG_LEVEL: 'warn',
        HOST: '127.0.0.1',
        PORT: String(port),
        ...options.env,
        REDIS_KEY_PREFIX: keyPrefix,
      },
      echo: process.env.BENCH_ECHO_LEADEX === '1' ? '[leadex]' : undefined,
    });
    const url = `http://127.0.0.1:${port}`;
    await waitReady(url, child);

    const admin = async (method: string, path: string, body?: unknown): Promise<any> => {
      const response = await fetch(`${url}/v1/admin${path}`, {
        method,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`${method} ${path} → ${response.status}: ${text}`);
      return JSON.parse(text);
    };

    await admin('POST', '/verticals', VERTICAL);
    // The affiliate's own limit sits far above any offered load: the token bucket is still taken on
    // every request (its cost is measured), but it never turns an auction into a 429. At the default
    // 1000 requests/s a two-phase run above 500 auctions/s (two requests each) was refused in part.
    const affiliate = (await admin('POST', '/affiliates', {
      name: 'Bench affiliate',
      payout: { type: 'revshare', percent: 80 },
      rate_limit_per_s: 100_000,
      rate_limit_burst: 200_000,
    })) as { api_key: string };
    const campaignIds: string[] = [];
    for (const buyer of options.buyers) {
      const created = (await admin('POST', '/buyers', { name: `Bench buyer ${buyer.index}`, balance: 1_000_000_000 })) as { id: string };
      const campaign = (await admin('POST', '/campaigns', {
        buyer_id: created.id,
        name: `Bench campaign ${buyer.index}`,
        vertical: VERTICAL.key,
        mode: 'exclusive',
        pricing: { type: 'bid', max_bid: 1000 },
        ping_url: buyer.pingUrl,
        post_url: buyer.postUrl,
        timeout_ms: options.timeoutMs ?? 500,
        caps: [{ period: 'day', leads: 10_000_000 }],
      })) as { id: string };
      campaignIds.push(campaign.id);
    }

    const started = child;
    return {
      url,
      pid: started.pid,
      apiKey: affiliate.api_key,
      database,
      campaignIds,
      child: started,
      stop: () => started.stop(30_000),
      async census() {
        const client = new pg.Client({ connectionString: databaseUrl(database) });
        await client.connect();
        try {
          const events = await client.query<{ type: string; n: string }>('select type, count(*) as n from events group by type');
          const leads = await client.query<{ status: string; n: string }>('select status, count(*) as n from leads group by status');
          const pinged = await client.query<{ k: string; n: string }>(
            `select coalesce(detail->>'outcome', '?') || coalesce('/' || (detail->>'reason'), '') as k, count(*) as n
               from events where type = 'campaign.pinged' group by 1`,
          );
          const one = async (sql: string) => Number((await client.query<{ n: string }>(sql)).rows[0]?.n ?? 0);
          return {
            events: Object.fromEntries(events.rows.map((r) => [r.type, Number(r.n)])),
            pinged: Object.fromEntries(pinged.rows.map((r) => [r.k, Number(r.n)])),
            leads: Object.fromEntries(leads.rows.map((r) => [r.status, Number(r.n)])),
            sales: await one('select count(*) as n from sales'),
            pings: await one('select count(*) as n from pings'),
          };
        } finally {
          await client.end();
        }
      },
      async pingedKeys() {
        const client = new pg.Client({ connectionString: databaseUrl(database) });
        await client.connect();
        try {
          const maps: string[] = [];
          const has = async (table: string, column: string) =>
            (await client.query(`select 1 from information_schema.columns where table_name = $1 and column_name = $2`, [table, column])).rowCount! > 0;
          if (await has('bids', 'ping_id')) maps.push('select lead_id, ping_id from bids');
          if (await has('pings', 'lead_id')) maps.push('select lead_id, id as ping_id from pings');
          if (await has('leads', 'ping_id')) maps.push('select id as lead_id, ping_id from leads where ping_id is not null');
          if (maps.length === 0) return new Set();
          const rows = await client.query<{ k: string }>(
            `with map as (select distinct lead_id, ping_id from (${maps.join(' union all ')}) m)
             select map.ping_id || ' ' || e.campaign_id as k
               from events e join map on map.lead_id = e.lead_id
              where e.type = 'campaign.pinged'`,
          );
          return new Set(rows.rows.map((r) => r.k));
        } finally {
          await client.end();
        }
      },
      drop,
      warnings: () => started.jsonLines.filter((line) => typeof line.level === 'number' && line.level >= 40),
    };
  } catch (error) {
    await child?.stop(5000);
    await drop();
    throw error;
  }
}

async function waitReady(url: string, child: Child, timeoutMs = 60_000): Promise<void> {
  const giveUp = Date.now() + timeoutMs;
  let exited = false;
  void child.exited.then(() => {
    exited = true;
  });
  let last = '';
  while (Date.now() < giveUp) {
    if (exited) throw new Error(`leadex exited during start:\n${child.tail.join('\n')}`);
    try {
      const response = await fetch(`${url}/readyz`);
      if (response.ok) return;
      last = `${response.status} ${await response.text()}`;
    } catch (error) {
      last = String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`leadex not ready after ${timeoutMs} ms (${last}):\n${child.tail.join('\n')}`);
}
