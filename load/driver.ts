// The affiliate load driver. Sends valid leads (each one a different consumer, so no duplicate or
// exclusivity rule short-circuits an auction) to an exchange (leadex or the floor) in one of two
// modes, and measures auctions, not requests:
//   direct     POST /v1/leads — one request is one auction;
//   two-phase  POST /v1/ping, then POST /v1/post with the ping_id (chained per connection); an
//              auction is the pair, or a ping answered no_bid.
// Load shapes:
//   - closed loop, C connections as fast as the exchange answers (autocannon);
//   - a fixed offered rate: autocannon's overallRate (per-connection budgets refilled every
//     second, so arrivals come in bursts at the top of each second), or `open`: an open-loop
//     undici driver that starts auctions on an even schedule whatever the answers, measuring
//     latency from the scheduled start (no coordinated omission) and waiting for every auction
//     it started (auctions/s is then completed auctions over the time to the last answer).
import { createHash, randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import { Pool } from 'undici';

export type Mode = 'direct' | 'two-phase';
export type RateDriver = 'autocannon' | 'open';

export interface DriveOptions {
  url: string;
  apiKey: string;
  mode: Mode;
  connections: number;
  durationS: number;
  /** Offered auctions per second; absent means max throughput with `connections`. */
  rate?: number;
  rateDriver?: RateDriver;
  /** Request timeout in seconds (default 10). */
  timeoutS?: number;
  /**
   * Open loop only: seconds of the same load before the measured `durationS`, which follow
   * without a gap. Auctions scheduled in the lead-in run but are not recorded.
   */
  leadInS?: number;
}

/** What the caller learns during a drive. */
export interface DriveHooks {
  /** The measured window starts (after the lead-in; at once without one). */
  onWindow?: () => void;
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface DriveResult {
  mode: Mode;
  connections: number;
  rate: number | null;
  rateDriver: RateDriver | null;
  elapsedS: number;
  /** Auctions with a 2xx final answer. */
  auctions: number;
  auctionsPerS: number;
  /** End-to-end per auction (both requests in two-phase), ms. */
  latency: LatencySummary;
  /**
   * Two-phase under the open-loop rate driver only (so scenario b by default): the ping (from the
   * scheduled start to its answer) and the post (from sending it to its answer) apart, to tell
   * which one a tail comes from.
   */
  phases?: { ping: LatencySummary; post: LatencySummary };
  /** Where the slowest 1 % of auctions started: spread over the run (queueing) or bunched (a stall). */
  tail: TailShape;
  /**
   * Open-loop driver only: auctions the driver itself started late (its own loop held up past
   * their scheduled start), which an open-loop latency charges to the exchange.
   */
  late?: LateStarts;
  /** Final answer statuses of the auctions: sold, unsold, no_bid, duplicate... */
  outcomes: Record<string, number>;
  /** Non-2xx answers by "<phase> <status>", plus connection errors and timeouts. */
  errors: { total: number; byStatus: Record<string, number>; connection: number; timeouts: number; samples: string[] };
  requests: number;
}

/**
 * A p99 over a few thousand auctions is its slowest few dozen. When one stall (a disk flush, a
 * pause of the host) holds up every auction of one second, they are most of that few dozen and
 * the p99 reads the stall; when the exchange queues, they come from every second. The second
 * that started the most of them, and the p99 of the rest of the run, tell the two apart.
 */
export interface TailShape {
  /** The auctions at or above the p99. */
  slowest: number;
  /** The whole second of the run, counted from 0, in which the most of them started. */
  worstSecond: number;
  /** How many of the slowest started in that second. */
  inWorstSecond: number;
  /** p99 of the auctions that started in every other second. */
  p99WithoutWorstSecond: number;
  /** Wall-clock start of the worst second (ISO), to find it in leadex's timeline and logs. */
  worstSecondAt?: string;
}

export interface LateStarts {
  /** Auctions started at least LATE_MS after their scheduled start. */
  count: number;
  /** Of the auctions at or above the p99, those started that late. */
  inSlowest: number;
  /** The latest start, ms after its schedule. */
  maxMs: number;
}

/** A start this late is the driver's stall, not its timer's ordinary jitter (about 1 ms). */
export const LATE_MS = 5;

/** Nearest-rank quantile of an ascending array; NaN when it is empty. */
function quantile(sorted: ArrayLike<number>, q: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** `latencies[i]` is the auction that started `startsMs[i]` after the run began; `p99` is theirs. */
function tailShape(latencies: readonly number[], startsMs: readonly number[], p99: number): TailShape {
  const perSecond = new Map<number, number>();
  let slowest = 0;
  for (let i = 0; i < latencies.length; i++) {
    if (!(latencies[i]! >= p99)) continue;
    slowest++;
    const second = Math.floor(startsMs[i]! / 1000);
    perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
  }
  let worstSecond = 0;
  let inWorstSecond = 0;
  for (const [second, count] of perSecond) {
    if (count > inWorstSecond || (count === inWorstSecond && second < worstSecond)) [worstSecond, inWorstSecond] = [second, count];
  }
  const rest = latencies.filter((_, i) => Math.floor(startsMs[i]! / 1000) !== worstSecond);
  return { slowest, worstSecond, inWorstSecond, p99WithoutWorstSecond: quantile(Float64Array.from(rest).sort(), 0.99) };
}

function lateStarts(latencies: readonly number[], lags: readonly number[], p99: number): LateStarts {
  let count = 0;
  let inSlowest = 0;
  let maxMs = 0;
  for (let i = 0; i < lags.length; i++) {
    maxMs = Math.max(maxMs, lags[i]!);
    if (!(lags[i]! >= LATE_MS)) continue;
    count++;
    if (latencies[i]! >= p99) inSlowest++;
  }
  return { count, inSlowest, maxMs };
}

function withWallClock(tail: TailShape, origin: number): TailShape {
  const originWall = Date.now() - (performance.now() - origin);
  return { ...tail, worstSecondAt: new Date(originWall + tail.worstSecond * 1000).toISOString() };
}

// ---- leads -------------------------------------------------------------------------------------

const AREAS = ['310', '213', '415', '646', '312'];
const SALT = randomBytes(3).toString('hex');
let consumerSerial = 0;

export interface Consumer {
  email: string;
  phone: string;
  emailSha256: string;
  phoneSha256: string;
}

/** A consumer never seen before in this driver process: unique e-mail and valid US E.164 phone. */
export function nextConsumer(): Consumer {
  const n = consumerSerial++;
  const area = AREAS[n % AREAS.length]!;
  const rest = Math.floor(n / AREAS.length);
  const exchange = 200 + (Math.floor(rest / 10_000) % 800);
  const phone = `+1${area}${exchange}${String(rest % 10_000).padStart(4, '0')}`;
  const email = `c.${SALT}.${n}@example.com`;
  const sha = (v: string) => createHash('sha256').update(v).digest('hex');
  return { email, phone, emailSha256: sha(email), phoneSha256: sha(phone) };
}

const DATA = { state: 'CA', zip: '90210', age: 34, credit: 'good' };
const CONSENT = { tcpa: true, text: 'I agree to be contacted', captured_at: '2026-11-22T10:00:00Z', ip: '203.0.113.7' };
const SOURCE = { sub_id: 'bench', url: 'https://example.com/quote' };

function contactOf(c: Consumer) {
  return { first_name: 'Ada', last_name: 'Lovelace', email: c.email, phone: c.phone, address: '1 Main St', city: 'Beverly Hills' };
}

export function directLead(c: Consumer = nextConsumer()): string {
  return JSON.stringify({ vertical: 'auto_insurance', data: DATA, contact: contactOf(c), consent: CONSENT, source: SOURCE });
}

export function pingBody(c: Consumer): string {
  return JSON.stringify({ vertical: 'auto_insurance', data: DATA, contact_hashes: { email_sha256: c.emailSha256, phone_sha256: c.phoneSha256 } });
}

export function postBody(pingId: string, c: Consumer): string {
  return JSON.stringify({ ping_id: pingId, contact: contactOf(c), consent: CONSENT, source: SOURCE });
}

// ---- recording ---------------------------------------------------------------------------------

class Recorder {
  latencies: number[] = [];
  /** When each auction in `latencies` started, ms after `origin`. */
  starts: number[] = [];
  /** How late the driver started each auction in `latencies`, ms (0 where it cannot tell). */
  lags: number[] = [];
  origin = performance.now();
  readonly phases = { ping: [] as number[], post: [] as number[] };
  outcomes: Record<string, number> = {};
  byStatus: Record<string, number> = {};
  samples: string[] = [];
  errorCount = 0;
  requests = 0;
  stopped = false;

  auction(status: string, startedAt: number, ms: number, lag = 0): void {
    if (this.stopped) return;
    this.latencies.push(ms);
    this.starts.push(startedAt - this.origin);
    this.lags.push(lag);
    this.outcomes[status] = (this.outcomes[status] ?? 0) + 1;
  }

  phase(phase: 'ping' | 'post', ms: number): void {
    if (!this.stopped) this.phases[phase].push(ms);
  }

  error(phase: string, status: number | string, body: string): void {
    if (this.stopped) return;
    const key = `${phase} ${status}`;
    this.byStatus[key] = (this.byStatus[key] ?? 0) + 1;
    this.errorCount++;
    if (this.samples.length < 5) this.samples.push(`${key}: ${body.slice(0, 300)}`);
  }

  summary(latencies: number[] = this.latencies): LatencySummary {
    const sorted = Float64Array.from(latencies).sort();
    const at = (q: number) => quantile(sorted, q);
    let sum = 0;
    for (const v of sorted) sum += v;
    return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN, mean: sorted.length ? sum / sorted.length : Number.NaN };
  }
}

function statusOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { status?: unknown };
    return typeof parsed.status === 'string' ? parsed.status : 'unknown';
  } catch {
    return 'unparsable';
  }
}

function pingIdOf(body: string): string | null {
  try {
    const parsed = JSON.parse(body) as { ping_id?: unknown; status?: unknown };
    return parsed.status === 'bid' && typeof parsed.ping_id === 'string' ? parsed.ping_id : null;
  } catch {
    return null;
  }
}

// ---- autocannon (closed loop, or overallRate) ---------------------------------------------------

interface ChainContext {
  t0?: number;
  consumer?: Consumer;
  pingId?: string | null;
}

async function driveAutocannon(options: DriveOptions): Promise<DriveResult> {
  const rec = new Recorder();
  const headers = { authorization: `Bearer ${options.apiKey}`, 'content-type': 'application/json' };
  const perAuction = options.mode === 'direct' ? 1 : 2;

  const requests: autocannon.Request[] =
    options.mode === 'direct'
      ? [
          {
            method: 'POST',
            path: '/v1/leads',
            headers,
            setupRequest: (req, context) => {
              (context as ChainContext).t0 = performance.now();
              return { ...req, body: directLead() };
            },
            onResponse: (status, body, context) => {
              const t0 = (context as ChainContext).t0 ?? performance.now();
              if (status >= 200 && status < 300) rec.auction(statusOf(body), t0, performance.now() - t0);
              else rec.error('lead', status, body);
            },
          },
        ]
      : [
          {
            method: 'POST',
            path: '/v1/ping',
            headers,
            setupRequest: (req, context) => {
              const ctx = context as ChainContext;
              ctx.t0 = performance.now();
              ctx.consumer = nextConsumer();
              ctx.pingId = null;
              return { ...req, body: pingBody(ctx.consumer) };
            },
            onResponse: (status, body, context) => {
              const ctx = context as ChainContext;
              if (status < 200 || status >= 300) return rec.error('ping', status, body);
              ctx.pingId = pingIdOf(body);
              // A ping nobody bid on ends the auction here.
              const t0 = ctx.t0 ?? performance.now();
              if (ctx.pingId === null) rec.auction(statusOf(body), t0, performance.now() - t0);
            },
          },
          {
            method: 'POST',
            path: '/v1/post',
            headers,
            setupRequest: (req, context) => {
              const ctx = context as ChainContext;
              // No ping id: back to a new ping (autocannon restarts the chain on a falsy request).
              if (!ctx.pingId || !ctx.consumer) return null as unknown as autocannon.Request;
              return { ...req, body: postBody(ctx.pingId, ctx.consumer) };
            },
            onResponse: (status, body, context) => {
              const ctx = context as ChainContext;
              const t0 = ctx.t0 ?? performance.now();
              if (status >= 200 && status < 300) rec.auction(statusOf(body), t0, performance.now() - t0);
              else rec.error('post', status, body);
            },
          },
        ];

  const started = performance.now();
  rec.origin = started;
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.durationS,
    timeout: options.timeoutS ?? 10,
    requests,
    ...(options.rate ? { overallRate: Math.round(options.rate * perAuction) } : {}),
  });
  rec.stopped = true;
  const elapsedS = (performance.now() - started) / 1000;
  return finish(options, rec, elapsedS, result.errors, result.timeouts, result.requests.total, 'autocannon');
}

function finish(
  options: DriveOptions,
  rec: Recorder,
  elapsedS: number,
  connectionErrors: number,
  timeouts: number,
  requests: number,
  driver: RateDriver,
): DriveResult {
  const auctions = rec.latencies.length;
  const latency = rec.summary();
  return {
    mode: options.mode,
    connections: options.connections,
    rate: options.rate ?? null,
    rateDriver: options.rate ? driver : null,
    elapsedS,
    auctions,
    auctionsPerS: auctions / elapsedS,
    latency,
    tail: withWallClock(tailShape(rec.latencies, rec.starts, latency.p99), rec.origin),
    // Only the open loop knows each auction's schedule, so only it can tell a late start.
    ...(driver === 'open' ? { late: lateStarts(rec.latencies, rec.lags, latency.p99) } : {}),
    ...(rec.phases.ping.length > 0 ? { phases: { ping: rec.summary(rec.phases.ping), post: rec.summary(rec.phases.post) } } : {}),
    outcomes: rec.outcomes,
    errors: {
      total: rec.errorCount + connectionErrors + timeouts,
      byStatus: rec.byStatus,
      connection: connectionErrors,
      timeouts,
      samples: rec.samples,
    },
    requests,
  };
}

// ---- open loop (fixed rate on an even schedule) -------------------------------------------------

async function driveOpenLoop(options: DriveOptions, hooks: DriveHooks): Promise<DriveResult> {
  const rate = options.rate!;
  const rec = new Recorder();
  // The lead-in's auctions are recorded here and dropped.
  const unrecorded = new Recorder();
  const pool = new Pool(options.url, { connections: options.connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const headers = { authorization: `Bearer ${options.apiKey}`, 'content-type': 'application/json' };
  const timeoutMs = (options.timeoutS ?? 10) * 1000;
  let connectionErrors = 0;
  let timeouts = 0;
  let requests = 0;

  const call = async (path: string, body: string, rec: Recorder): Promise<{ status: number; text: string } | null> => {
    const counted = rec !== unrecorded;
    if (counted) requests++;
    try {
      const response = await pool.request({ path, method: 'POST', headers, body, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
      return { status: response.statusCode, text: await response.body.text() };
    } catch (error) {
      const code = (error as { code?: string }).code ?? '';
      if (!counted) return null;
      if (code.includes('TIMEOUT')) timeouts++;
      else connectionErrors++;
      return null;
    }
  };

  let lastAnswer = 0;
  const auction = async (scheduled: number, lag: number, rec: Recorder): Promise<void> => {
    try {
      await runAuction(scheduled, lag, rec);
    } finally {
      if (rec !== unrecorded) lastAnswer = performance.now();
    }
  };
  const runAuction = async (scheduled: number, lag: number, rec: Recorder): Promise<void> => {
    const consumer = nextConsumer();
    if (options.mode === 'direct') {
      const answer = await call('/v1/leads', directLead(consumer), rec);
      if (!answer) return;
      if (answer.status >= 200 && answer.status < 300) rec.auction(statusOf(answer.text), scheduled, performance.now() - scheduled, lag);
      else rec.error('lead', answer.status, answer.text);
      return;
    }
    const ping = await call('/v1/ping', pingBody(consumer), rec);
    if (!ping) return;
    if (ping.status < 200 || ping.status >= 300) return rec.error('ping', ping.status, ping.text);
    const pinged = performance.now();
    rec.phase('ping', pinged - scheduled);
    const pingId = pingIdOf(ping.text);
    if (pingId === null) return rec.auction(statusOf(ping.text), scheduled, pinged - scheduled, lag);
    const post = await call('/v1/post', postBody(pingId, consumer), rec);
    if (!post) return;
    const posted = performance.now();
    if (post.status >= 200 && post.status < 300) {
      rec.phase('post', posted - pinged);
      rec.auction(statusOf(post.text), scheduled, posted - scheduled, lag);
    } else rec.error('post', post.status, post.text);
  };

  const started = performance.now();
  // One schedule from the lead-in's start to the window's end, so the window begins on the beat.
  const windowStart = started + (options.leadInS ?? 0) * 1000;
  rec.origin = windowStart;
  const end = windowStart + options.durationS * 1000;
  const interval = 1000 / rate;
  const inFlight = new Set<Promise<void>>();
  const leadIn = new Set<Promise<void>>();
  let sent = 0;
  let windowOpen = false;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      // Every auction whose slot has come, even if the previous ones have not answered.
      while (started + sent * interval <= Math.min(now, end)) {
        const scheduled = started + sent * interval;
        const measured = scheduled >= windowStart;
        if (measured && !windowOpen) {
          windowOpen = true;
          hooks.onWindow?.();
        }
        const p = auction(scheduled, now - scheduled, measured ? rec : unrecorded).finally(() => (measured ? inFlight : leadIn).delete(p));
        (measured ? inFlight : leadIn).add(p);
        sent++;
      }
      if (now >= end) return resolve();
      setTimeout(tick, Math.max(0, Math.min(interval, started + sent * interval - now)));
    };
    tick();
  });
  // Every auction started in the window counts, however late it answers (bounded by the
  // request timeout): dropping the slow ones would hide exactly what an open loop measures.
  await Promise.race([Promise.allSettled([...inFlight]), new Promise((r) => setTimeout(r, timeoutMs * 2 + 1000))]);
  rec.stopped = true;
  const unfinished = inFlight.size;
  const elapsedS = (Math.max(end, lastAnswer) - windowStart) / 1000;
  await Promise.allSettled([...leadIn]);
  await pool.destroy().catch(() => {});
  return finish(options, rec, elapsedS, connectionErrors, timeouts + unfinished, requests, 'open');
}

export function drive(options: DriveOptions, hooks: DriveHooks = {}): Promise<DriveResult> {
  if (options.rate && options.rateDriver === 'open') return driveOpenLoop(options, hooks);
  if (options.leadInS) throw new Error('a lead-in is for the open loop (an offered rate) only');
  hooks.onWindow?.();
  return driveAutocannon(options);
}
