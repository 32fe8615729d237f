// The buyer fleet simulator: N fake buyers on loopback, one node:http server (one port, one
// origin) per buyer, so the exchange keeps one connection pool per buyer exactly as in
// production. Each buyer answers POST /ping with a bid (or 204 no-bid) after a latency drawn
// from a distribution, and POST /post with accepted / rejected; it counts what it received.
//
// It runs in its own process(es), never inside the exchange or the load driver, so the CPU
// charged to the exchange is the exchange's alone. Two faces:
//   - child:  `node load/buyer-fleet.ts` with FLEET_CONFIG (JSON) in the environment prints one
//             JSON line {"event":"ready", control, buyers:[...]} and serves a control endpoint:
//             GET /counts, POST /reset, POST /config (partial behaviour change at run time).
//   - parent: startFleet(config) spawns the child(ren) and returns a handle over them.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { flagsFromEnv, SHORT_PAUSES, spawnNode, type Child } from './child.ts';

// ---- configuration ---------------------------------------------------------------------------

/** Milliseconds before a buyer answers. 0 (fixed) answers in the same tick the body arrives. */
export type Latency =
  | { kind: 'fixed'; ms: number }
  | { kind: 'uniform'; minMs: number; maxMs: number }
  /** exp(N(ln median, sigma)) clipped to maxMs: the long right tail real buyers have. */
  | { kind: 'lognormal'; medianMs: number; sigma: number; maxMs?: number };

/** Dollars, rounded to cents. */
export type BidDistribution =
  | { kind: 'fixed'; amount: number }
  | { kind: 'uniform'; min: number; max: number }
  | { kind: 'lognormal'; median: number; sigma: number; min?: number; max?: number };

export interface FleetBehaviour {
  latency: Latency;
  postLatency: Latency;
  bid: BidDistribution;
  /** Share of pings answered 204 (no bid). */
  noBidRate: number;
  /** Share of posts answered { accepted: false }. */
  postRejectRate: number;
}

export interface FleetConfig extends FleetBehaviour {
  buyers: number;
  /** Spread the buyers over this many processes (default 1). */
  processes?: number;
  /** Seed of the fleet's PRNG, for repeatable runs (default: random). */
  seed?: number;
}

export const DEFAULT_BEHAVIOUR: FleetBehaviour = {
  latency: { kind: 'fixed', ms: 0 },
  postLatency: { kind: 'fixed', ms: 0 },
  bid: { kind: 'uniform', min: 5, max: 50 },
  noBidRate: 0.2,
  postRejectRate: 0.05,
};

export interface FleetBuyer {
  index: number;
  origin: string;
  pingUrl: string;
  postUrl: string;
}

export interface BuyerCounts {
  pings: number;
  bids: number;
  noBids: number;
  posts: number;
  accepted: number;
  rejected: number;
  other: number;
}

export interface FleetCounts {
  /** Requests to the plain paths (/ping, /post): leadex's. */
  perBuyer: BuyerCounts[];
  total: BuyerCounts;
  /** Requests with a query string (/ping?floor): the floor's, kept apart for the audit check. */
  tagged: BuyerCounts;
}

/** Parses "fixed:50", "uniform:10-80", "lognormal:20,0.6" (median ms, sigma[, max ms]). */
export function parseLatency(spec: string): Latency {
  const [kind, rest = ''] = spec.split(':');
  if (kind === 'fixed') return { kind, ms: Number(rest || 0) };
  if (kind === 'uniform') {
    const [min, max] = rest.split('-').map(Number);
    return { kind, minMs: min ?? 0, maxMs: max ?? min ?? 0 };
  }
  if (kind === 'lognormal') {
    const [median, sigma, max] = rest.split(',').map(Number);
    const latency: Latency = { kind, medianMs: median ?? 10, sigma: sigma ?? 0.5 };
    if (max !== undefined && Number.isFinite(max)) latency.maxMs = max;
    return latency;
  }
  throw new Error(`unknown latency '${spec}': use fixed:MS, uniform:MIN-MAX or lognormal:MEDIAN,SIGMA[,MAX]`);
}

export function describeLatency(latency: Latency): string {
  switch (latency.kind) {
    case 'fixed':
      return `${latency.ms} ms`;
    case 'uniform':
      return `${latency.minMs}-${latency.maxMs} ms`;
    case 'lognormal':
      return `lognormal median ${latency.medianMs} ms σ ${latency.sigma}`;
  }
}

const PING_ID_FIELD = Buffer.from('"ping_id":"');

/**
 * The ping id decoded from the body's bytes on its own. A capture or slice of the body's text
 * is a V8 sliced string, which keeps the whole body alive for as long as the id is kept: 184 070
 * ids of 384-byte bodies held 81.6 MiB of heap that way and 14.2 this way, and over scenario b
 * the fleet's RSS grew from 104 to 305 MB that way and from 107 to 224 this way.
 */
function pingIdOf(body: Buffer): string {
  const at = body.indexOf(PING_ID_FIELD);
  if (at < 0) return '?';
  const start = at + PING_ID_FIELD.length;
  const end = body.indexOf(0x22, start);
  return end < 0 ? '?' : body.toString('latin1', start, end);
}

// ---- the child -------------------------------------------------------------------------------

/** mulberry32: small, fast, good enough for a simulator. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(random: () => number): number {
  // Box-Muller; 1 - u keeps log away from 0.
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

function drawLatency(latency: Latency, random: () => number): number {
  switch (latency.kind) {
    case 'fixed':
      return latency.ms;
    case 'uniform':
      return latency.minMs + random() * (latency.maxMs - latency.minMs);
    case 'lognormal': {
      const value = latency.medianMs * Math.exp(latency.sigma * gaussian(random));
      return latency.maxMs === undefined ? value : Math.min(value, latency.maxMs);
    }
  }
}

function drawBid(bid: BidDistribution, random: () => number): number {
  let dollars: number;
  switch (bid.kind) {
    case 'fixed':
      dollars = bid.amount;
      break;
    case 'uniform':
      dollars = bid.min + random() * (bid.max - bid.min);
      break;
    case 'lognormal':
      dollars = Math.min(bid.max ?? Infinity, Math.max(bid.min ?? 0.01, bid.median * Math.exp(bid.sigma * gaussian(random))));
      break;
  }
  return Math.max(0.01, Math.round(dollars * 100) / 100);
}

const zeroCounts = (): BuyerCounts => ({ pings: 0, bids: 0, noBids: 0, posts: 0, accepted: 0, rejected: 0, other: 0 });

function sumCounts(list: BuyerCounts[]): BuyerCounts {
  const total = zeroCounts();
  for (const c of list) {
    for (const key of Object.keys(total) as Array<keyof BuyerCounts>) total[key] += c[key];
  }
  return total;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

async function runChild(): Promise<void> {
  const config = JSON.parse(process.env.FLEET_CONFIG ?? '{}') as FleetConfig & { firstIndex?: number };
  const behaviour: FleetBehaviour = { ...DEFAULT_BEHAVIOUR, ...config };
  const firstIndex = config.firstIndex ?? 0;
  const random = prng(config.seed ?? Math.floor(Math.random() * 2 ** 32));
  const counts: BuyerCounts[] = Array.from({ length: config.buyers }, zeroCounts);
  const tagged: BuyerCounts[] = Array.from({ length: config.buyers }, zeroCounts);
  const rejectedBody = Buffer.from('{"accepted":false,"reason":"duplicate"}');
  // The ping ids each buyer received on its plain path (leadex's), for the exact audit check.
  const received: string[][] = Array.from({ length: config.buyers }, () => []);
  // The floor's are kept too, though nothing reads them: reading each body and keeping its id
  // costs the fleet CPU, and it must cost the same for both exchanges, whose auctions share
  // the machine's cores with the fleet.
  const receivedTagged: string[][] = Array.from({ length: config.buyers }, () => []);
  let serial = 0;

  const send = (res: ServerResponse, status: number, body: Buffer | null) => {
    if (res.destroyed) return;
    if (body === null) {
      res.writeHead(status);
      res.end();
    } else {
      res.writeHead(status, { ...JSON_HEADERS, 'content-length': body.length });
      res.end(body);
    }
  };
  const later = (ms: number, fn: () => void) => {
    if (ms <= 0) fn();
    else setTimeout(fn, ms);
  };

  const handler = (index: number) => (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    const c = query < 0 ? counts[index]! : tagged[index]!;
    req.on('error', () => {});
    res.on('error', () => {});
    // The body is read before answering so keep-alive stays clean; pings are kept (for their
    // ping ids), everything else is dropped as it arrives.
    const keep = path === '/ping';
    const chunks: Buffer[] = [];
    if (keep) req.on('data', (chunk: Buffer) => chunks.push(chunk));
    else req.resume();
    req.once('end', () => {
      if (req.method === 'POST' && path === '/ping') {
        c.pings++;
        (query < 0 ? received : receivedTagged)[index]!.push(pingIdOf(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
        const delay = drawLatency(behaviour.latency, random);
        if (random() < behaviour.noBidRate) {
          c.noBids++;
          later(delay, () => send(res, 204, null));
        } else {
          c.bids++;
          const body = Buffer.from(`{"bid":${drawBid(behaviour.bid, random)},"bid_id":"b${++serial}"}`);
          later(delay, () => send(res, 200, body));
        }
      } else if (req.method === 'POST' && path === '/post') {
        c.posts++;
        const delay = drawLatency(behaviour.postLatency, random);
        if (random() < behaviour.postRejectRate) {
          c.rejected++;
          later(delay, () => send(res, 200, rejectedBody));
        } else {
          c.accepted++;
          const body = Buffer.from(`{"accepted":true,"buyer_lead_id":"bl${++serial}","redirect_url":null}`);
          later(delay, () => send(res, 200, body));
        }
      } else {
        c.other++;
        send(res, 404, Buffer.from('{"error":"not found"}'));
      }
    });
  };

  const listen = (server: Server): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', 4096, () => resolve((server.address() as AddressInfo).port));
    });

  const servers: Server[] = [];
  const buyers: FleetBuyer[] = [];
  for (let i = 0; i < config.buyers; i++) {
    // Long keep-alive so the exchange's pooled connections are not closed under it mid-run.
    const server = createServer({ keepAliveTimeout: 120_000, headersTimeout: 60_000, requestTimeout: 0 }, handler(i));
    server.on('clientError', (_error, socket) => socket.destroy());
    const port = await listen(server);
    servers.push(server);
    const origin = `http://127.0.0.1:${port}`;
    buyers.push({ index: firstIndex + i, origin, pingUrl: `${origin}/ping`, postUrl: `${origin}/post` });
  }

  const control = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const reply = (value: unknown) => {
        const body = Buffer.from(JSON.stringify(value));
        send(res, 200, body);
      };
      if (req.method === 'GET' && req.url === '/counts') {
        return reply({ perBuyer: counts, total: sumCounts(counts), tagged: sumCounts(tagged) } satisfies FleetCounts);
      }
      if (req.method === 'GET' && req.url === '/pings') return reply(received);
      if (req.method === 'POST' && req.url === '/reset') {
        for (let i = 0; i < counts.length; i++) {
          counts[i] = zeroCounts();
          tagged[i] = zeroCounts();
          received[i] = [];
          receivedTagged[i] = [];
        }
        return reply({ ok: true });
      }
      if (req.method === 'POST' && req.url === '/config') {
        Object.assign(behaviour, JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Partial<FleetBehaviour>);
        return reply(behaviour);
      }
      send(res, 404, null);
    });
  });
  const controlPort = await listen(control);

  const stop = () => {
    for (const server of [...servers, control]) {
      server.close();
      server.closeAllConnections();
    }
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdout.write(`${JSON.stringify({ event: 'ready', control: `http://127.0.0.1:${controlPort}`, buyers })}\n`);
}

// ---- the parent's handle ---------------------------------------------------------------------

export interface Fleet {
  buyers: FleetBuyer[];
  /** Process ids of the fleet (one per fleet process). */
  pids: number[];
  counts(): Promise<FleetCounts>;
  /** Per buyer (fleet index), the ping ids received on the plain path since the last reset. */
  pingIds(): Promise<string[][]>;
  reset(): Promise<void>;
  configure(change: Partial<FleetBehaviour>): Promise<void>;
  stop(): Promise<void>;
}

export async function startFleet(config: Partial<FleetConfig> & { buyers: number }): Promise<Fleet> {
  const processes = Math.max(1, Math.min(config.processes ?? 1, config.buyers));
  const script = fileURLToPath(import.meta.url);
  const children: Array<{ child: Child; control: string; buyers: FleetBuyer[] }> = [];
  try {
    let first = 0;
    for (let p = 0; p < processes; p++) {
      const count = Math.floor(config.buyers / processes) + (p < config.buyers % processes ? 1 : 0);
      const childConfig = { ...DEFAULT_BEHAVIOUR, ...config, buyers: count, firstIndex: first, seed: (config.seed ?? Date.now()) + p };
      // One pause of the fleet holds every buyer's answers at once (load/FINDINGS.md, "The fleet's
      // pauses, too"). BENCH_FLEET_NODE_ARGS, when set (even empty), replaces these flags.
      const child = spawnNode({ script, nodeArgs: flagsFromEnv('BENCH_FLEET_NODE_ARGS', SHORT_PAUSES), env: { FLEET_CONFIG: JSON.stringify(childConfig) }, echo: '[fleet]', keepJson: false });
      const ready = await child.waitFor('ready');
      children.push({ child, control: ready.control as string, buyers: ready.buyers as FleetBuyer[] });
      first += count;
    }
  } catch (error) {
    await Promise.all(children.map((c) => c.child.stop()));
    throw error;
  }

  const call = async (control: string, method: string, path: string, body?: unknown): Promise<any> => {
    const response = await fetch(`${control}${path}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    if (!response.ok) throw new Error(`fleet ${method} ${path}: ${response.status}`);
    return response.json();
  };

  return {
    buyers: children.flatMap((c) => c.buyers),
    pids: children.map((c) => c.child.pid),
    async counts() {
      const parts = (await Promise.all(children.map((c) => call(c.control, 'GET', '/counts')))) as FleetCounts[];
      const perBuyer = parts.flatMap((p) => p.perBuyer);
      return { perBuyer, total: sumCounts(perBuyer), tagged: sumCounts(parts.map((p) => p.tagged)) };
    },
    async pingIds() {
      const parts = (await Promise.all(children.map((c) => call(c.control, 'GET', '/pings')))) as string[][][];
      return parts.flat();
    },
    async reset() {
      await Promise.all(children.map((c) => call(c.control, 'POST', '/reset')));
    },
    async configure(change) {
      await Promise.all(children.map((c) => call(c.control, 'POST', '/config', change)));
    },
    async stop() {
      await Promise.all(children.map((c) => c.child.stop()));
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runChild();
