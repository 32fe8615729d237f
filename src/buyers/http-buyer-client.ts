// The BuyerClient adapter over undici: signs, sends and bounds every ping and post to a buyer.
// One pool per buyer origin keeps TCP (and TLS) connections warm between auctions, which is most
// of a ping's latency budget on a cold connection.
import { createSecretKey, type KeyObject } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import type { CampaignWithSecret } from '../catalog/types.ts';
import type {
  BuyerClient,
  NoBidReason,
  PingBody,
  PingOutcome,
  PostBody,
  PostFailureReason,
  PostOutcome,
} from './buyer-client.ts';
import { parseBidAnswer } from './parse-bid.ts';
import { pingJson } from './ping-json.ts';
import { parsePostAnswer } from './parse-post-answer.ts';
import { signBody } from './signing.ts';
import { boundedPost, type BoundedAnswer } from './bounded-request.ts';

export interface HttpBuyerClientOptions {
  /** Largest answer body accepted; section 4.1 says 64 KiB. */
  maxBodyBytes?: number;
  /** Connections per buyer origin. */
  connections?: number;
  /** Idle keep-alive time before a pooled connection is closed (undici caps it by the server's hint). */
  keepAliveTimeoutMs?: number;
  /** Epoch ms; used for deadlines and latency, so tests can pin it. Timers still run on real time. */
  now?: () => number;
  /** First post retry backoff; doubles per attempt, with jitter. */
  postRetryBackoffMs?: number;
  /** Upper bound on post attempts, whatever the deadline allows (a fast-failing buyer is not hammered). */
  maxPostAttempts?: number;
}

const DEFAULTS = {
  maxBodyBytes: 64 * 1024,
  connections: 128,
  keepAliveTimeoutMs: 30_000,
  postRetryBackoffMs: 100,
  maxPostAttempts: 6,
};

/**
 * Headers a campaign may not set: hop-by-hop ones undici refuses (they would throw on every
 * request), and the ones the exchange owns so a campaign cannot forge or break the signature.
 */
const RESERVED_HEADERS = new Set([
  'connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'expect', 'te', 'trailer',
  'content-length', 'content-type', 'x-leadex-timestamp', 'x-leadex-signature', 'idempotency-key',
]);

/** Undici belts fire only if our own deadline timer somehow did not; a margin keeps the reason ours. */
const UNDICI_TIMEOUT_MARGIN_MS = 250;

/** Below this, another post attempt cannot realistically complete, so it is not worth sending. */
const MIN_ATTEMPT_MS = 10;

const TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT',
]);

/** The origin a URL's pool is keyed by; what `retain` expects. Null for unusable URLs. */
export function originOf(url: string): string | null {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.origin : null;
  } catch {
    return null;
  }
}

type Transport =
  | { ok: true; status: number; text: string | null; location: string | null }
  | { ok: false; reason: 'timeout' | 'network' | 'too_large'; detail?: string; status?: number; final?: boolean };

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { code?: unknown; name?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === 'string') return e.code;
  // Happy-eyeballs connects fail with an AggregateError; the first member says why.
  if (Array.isArray(e.errors) && e.errors.length > 0) {
    const inner = errorCode(e.errors[0]);
    if (inner !== undefined) return inner;
  }
  if (e.cause !== undefined) {
    const inner = errorCode(e.cause);
    if (inner !== undefined) return inner;
  }
  return typeof e.name === 'string' ? e.name : undefined;
}

function classifyError(error: unknown): { reason: 'timeout' | 'network'; detail?: string } {
  const code = errorCode(error);
  if (code !== undefined && TIMEOUT_CODES.has(code)) return { reason: 'timeout', detail: code };
  if (code === 'AbortError' || code === 'TimeoutError') return { reason: 'timeout', detail: code };
  return code === undefined ? { reason: 'network' } : { reason: 'network', detail: code };
}

export class HttpBuyerClient implements BuyerClient {
  readonly #pools = new Map<string, Pool>();
  readonly #maxBodyBytes: number;
  readonly #connections: number;
  readonly #keepAliveTimeoutMs: number;
  readonly #now: () => number;
  readonly #postRetryBackoffMs: number;
  readonly #maxPostAttempts: number;
  #closed = false;

  constructor(options: HttpBuyerClientOptions = {}) {
    this.#maxBodyBytes = options.maxBodyBytes ?? DEFAULTS.maxBodyBytes;
    this.#connections = options.connections ?? DEFAULTS.connections;
    this.#keepAliveTimeoutMs = options.keepAliveTimeoutMs ?? DEFAULTS.keepAliveTimeoutMs;
    this.#now = options.now ?? Date.now;
    this.#postRetryBackoffMs = options.postRetryBackoffMs ?? DEFAULTS.postRetryBackoffMs;
    this.#maxPostAttempts = Math.max(1, options.maxPostAttempts ?? DEFAULTS.maxPostAttempts);
  }

  ping(campaign: CampaignWithSecret, body: PingBody, deadline: number): Promise<PingOutcome> {
    // Ten of these run for every lead, so the ping is one promise over the request, not a chain
    // of async layers: each layer was a promise, a suspended frame and its closures per ping.
    const started = this.#now();
    try {
      if (campaign.ping_url === null) return Promise.resolve(noBidOutcome(started, started, 'network', 'campaign has no ping_url'));
      const own = campaign.timeout_ms > 0 ? started + campaign.timeout_ms : Number.POSITIVE_INFINITY;
      const endAt = Math.min(own, deadline);
      if (!(endAt > started)) return Promise.resolve(noBidOutcome(started, started, 'timeout', 'deadline already passed'));

      const sent = this.#send(campaign, campaign.ping_url, pingJson(body), null, endAt);
      if (!(sent instanceof Promise)) return Promise.resolve(pingOutcome(sent, started, this.#now()));
      return sent.then(
        (answer) => pingOutcome(transportOf(answer), started, this.#now()),
        (error: unknown) => noBidOutcome(started, this.#now(), 'network', errorCode(error) ?? 'unexpected error'),
      );
    } catch (error) {
      // The port promises never to throw: an auction must not fail because one buyer is odd.
      return Promise.resolve(noBidOutcome(started, this.#now(), 'network', errorCode(error) ?? 'unexpected error'));
    }
  }

  async post(campaign: CampaignWithSecret, body: PostBody, idempotencyKey: string, postDeadline: number): Promise<PostOutcome> {
    const started = this.#now();
    // A campaign's post_timeout_ms bounds everything spent on it, retries included, so one
    // hanging winner leaves the rest of the post deadline to the next bid.
    const deadline = campaign.post_timeout_ms ? Math.min(postDeadline, started + campaign.post_timeout_ms) : postDeadline;
    const latency = (): number => Math.max(0, this.#now() - started);
    let attempts = 0;
    let last: { reason: PostFailureReason; detail?: string; status?: number } = {
      reason: 'timeout',
      detail: 'deadline already passed',
    };
    const failed = (): PostOutcome => {
      const outcome: PostOutcome = { kind: 'failed', reason: last.reason, latencyMs: latency(), attempts };
      if (last.detail !== undefined) outcome.detail = last.detail;
      if (last.status !== undefined) outcome.status = last.status;
      return outcome;
    };

    try {
      // Serialised once: every retry must carry byte-identical content under the same key.
      const raw = JSON.stringify(body);
      for (;;) {
        if (deadline - this.#now() < MIN_ATTEMPT_MS) return failed();
        attempts += 1;
        const sent = this.#send(campaign, campaign.post_url, raw, { 'idempotency-key': idempotencyKey }, deadline);
        const result = sent instanceof Promise ? transportOf(await sent) : sent;

        if (!result.ok) {
          last = { reason: result.reason };
          if (result.detail !== undefined) last.detail = result.detail;
          if (result.status !== undefined) last.status = result.status;
          // An answer too big to read is still an answer; sending it again would get the same.
          if (result.reason === 'too_large' || result.final === true) return failed();
        } else {
          const answer = parsePostAnswer(result.status, result.text);
          if (answer.kind === 'accepted') {
            return { kind: 'accepted', buyerLeadId: answer.buyerLeadId, redirectUrl: answer.redirectUrl, latencyMs: latency(), attempts };
          }
          if (answer.kind === 'rejected') return { kind: 'rejected', reason: answer.reason, latencyMs: latency(), attempts };
          last = { reason: answer.reason, status: result.status };
          if (answer.detail !== undefined) last.detail = answer.detail;
          if (answer.kind === 'failed') return failed();
        }

        if (attempts >= this.#maxPostAttempts) return failed();
        // Exponential backoff with jitter, so a buyer recovering from an outage is not hit by
        // every exchange node's retries in lockstep.
        const base = this.#postRetryBackoffMs * 2 ** (attempts - 1);
        const wait = Math.round(base / 2 + Math.random() * (base / 2));
        if (deadline - this.#now() - wait < MIN_ATTEMPT_MS) return failed();
        await sleep(wait);
      }
    } catch (error) {
      last = { reason: 'network', detail: errorCode(error) ?? 'unexpected error' };
      return failed();
    }
  }

  async retain(origins: Set<string>): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const [origin, pool] of this.#pools) {
      if (origins.has(origin)) continue;
      this.#pools.delete(origin);
      // close() lets requests already in flight finish (they are bounded by their deadlines).
      closing.push(pool.close().catch(() => {}));
    }
    await Promise.all(closing);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((pool) => pool.close().catch(() => {})));
  }

  #pool(origin: string): Pool {
    let pool = this.#pools.get(origin);
    if (pool === undefined) {
      pool = new Pool(origin, {
        connections: this.#connections,
        // Pipelining would let one slow buyer answer delay the next ping queued behind it.
        pipelining: 1,
        keepAliveTimeout: this.#keepAliveTimeoutMs,
        keepAliveMaxTimeout: Math.max(this.#keepAliveTimeoutMs, 600_000),
      });
      this.#pools.set(origin, pool);
    }
    return pool;
  }

  /**
   * One signed POST bounded by `endAt` (epoch ms) end to end: queueing, connect, headers and the
   * whole body read (src/buyers/bounded-request.ts). What cannot even be sent is answered at once.
   */
  #send(
    campaign: CampaignWithSecret,
    target: string,
    raw: string,
    extraHeaders: Record<string, string> | null,
    endAt: number,
  ): Transport | Promise<BoundedAnswer> {
    // Configuration problems are marked final: retrying cannot fix them.
    if (this.#closed) return { ok: false, reason: 'network', detail: 'client closed', final: true };
    const url = targetOf(target);
    if (url === 'invalid') return { ok: false, reason: 'network', detail: 'invalid url', final: true };
    if (url === 'unsupported') return { ok: false, reason: 'network', detail: 'unsupported url scheme', final: true };

    const remaining = endAt - this.#now();
    if (remaining <= 0) return { ok: false, reason: 'timeout', detail: 'deadline already passed' };

    const timestamp = String(Math.floor(this.#now() / 1000));
    const { key, headers: own } = sendingOf(campaign);
    const signature = signBody(key, timestamp, raw);
    // Most requests are pings of campaigns with no headers of their own: one small literal.
    const headers: Record<string, string> =
      own === NO_HEADERS && extraHeaders === null
        ? { 'content-type': 'application/json', 'x-leadex-timestamp': timestamp, 'x-leadex-signature': signature }
        : { ...own, ...extraHeaders, 'content-type': 'application/json', 'x-leadex-timestamp': timestamp, 'x-leadex-signature': signature };

    return boundedPost(
      this.#pool(url.origin),
      { path: url.path, headers, body: raw },
      { timeoutMs: remaining, maxBodyBytes: this.#maxBodyBytes, beltMs: remaining + UNDICI_TIMEOUT_MARGIN_MS },
    );
  }
}

/** What a bounded request's answer means to the buyer client. */
function transportOf(answer: BoundedAnswer): Transport {
  if (answer.ok) return answer;
  const failure: Transport = answer.reason === 'error' ? { ok: false, ...classifyError(answer.error) } : { ok: false, reason: answer.reason };
  if (answer.status !== undefined) failure.status = answer.status;
  return failure;
}

function noBidOutcome(started: number, now: number, reason: NoBidReason, detail?: string, status?: number): PingOutcome {
  const outcome: PingOutcome = { kind: 'no_bid', reason, latencyMs: Math.max(0, now - started) };
  if (detail !== undefined) outcome.detail = detail;
  if (status !== undefined) outcome.status = status;
  return outcome;
}

function pingOutcome(result: Transport, started: number, now: number): PingOutcome {
  if (!result.ok) return noBidOutcome(started, now, result.reason, result.detail, result.status);
  const answer = parseBidAnswer(result.status, result.text);
  if (answer.kind === 'bid') {
    return { kind: 'bid', amount: answer.amount, bidId: answer.bidId, latencyMs: Math.max(0, now - started), status: result.status };
  }
  const detail = answer.reason === 'redirect' && result.location !== null ? `${answer.detail} to ${result.location}` : answer.detail;
  return noBidOutcome(started, now, answer.reason, detail, result.status);
}

type Target = { origin: string; path: string } | 'invalid' | 'unsupported';

// Parsed once per URL: campaigns keep their endpoints for their lifetime, and `new URL` on every
// ping is measurable. Bounded so a stream of reconfigured URLs cannot grow it without end.
const targets = new Map<string, Target>();
const MAX_TARGETS = 10_000;

function targetOf(url: string): Target {
  let target = targets.get(url);
  if (target === undefined) {
    try {
      const parsed = new URL(url);
      target = parsed.protocol === 'http:' || parsed.protocol === 'https:' ? { origin: parsed.origin, path: parsed.pathname + parsed.search } : 'unsupported';
    } catch {
      target = 'invalid';
    }
    if (targets.size >= MAX_TARGETS) targets.clear();
    targets.set(url, target);
  }
  return target;
}

/** What sendingOf gives as headers for a campaign that sets none of its own. */
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** How requests to a campaign are signed and what headers of its own they carry. */
interface Sending {
  /** The signing secret as a key object: importing it on every signature was a sixth of its cost. */
  key: KeyObject;
  /** Its own headers, lower-cased, reserved ones left out; NO_HEADERS when it sets none. */
  headers: Readonly<Record<string, string>>;
}

// Made once per campaign object. The catalog replaces the object when the campaign changes, so a
// rotated secret or edited header is never stale.
const sendingByCampaign = new WeakMap<CampaignWithSecret, Sending>();

function sendingOf(campaign: CampaignWithSecret): Sending {
  let sending = sendingByCampaign.get(campaign);
  if (sending === undefined) {
    const own: Record<string, string> = {};
    for (const [name, value] of Object.entries(campaign.headers ?? {})) {
      const lower = name.toLowerCase();
      if (!RESERVED_HEADERS.has(lower) && typeof value === 'string') own[lower] = value;
    }
    sending = {
      key: createSecretKey(Buffer.from(campaign.signing_secret, 'utf8')),
      headers: Object.keys(own).length === 0 ? NO_HEADERS : own,
    };
    sendingByCampaign.set(campaign, sending);
  }
  return sending;
}
