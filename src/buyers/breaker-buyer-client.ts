// Decorates the buyers port with one circuit breaker per campaign endpoint (ping and post
// apart), so a buyer that keeps failing stops receiving traffic for a while, then gets a single
// probe, and is back in auctions once that probe succeeds.
//
// The port never throws (failures are outcomes) while opossum counts rejections, so inside a
// breaker a failing outcome becomes a rejection, and outside it becomes the outcome again.
import CircuitBreaker from 'opossum';
import { breakerSettingsOf } from '../catalog/breaker-defaults.ts';
import type { BreakerSettings, CampaignWithSecret } from '../catalog/types.ts';
import type { BuyerClient, PingBody, PingOutcome, PostBody, PostOutcome } from './buyer-client.ts';
import type { BreakerReport, BreakerState, Endpoint, EndpointBreakers, EndpointStats } from './endpoint-breakers.ts';

export interface BreakerBuyerClientOptions {
  /** Epoch ms, to tell calls that could not reach the buyer at all. */
  now?: () => number;
}

// What a breaker runs, with what it is fired with. One action per endpoint, made once, rather
// than a closure per call: ten pings a lead each made one, and an async layer around it.
type PingArgs = [inner: BuyerClient, campaign: CampaignWithSecret, body: PingBody, deadline: number];
type PostArgs = [inner: BuyerClient, campaign: CampaignWithSecret, body: PostBody, idempotencyKey: string, deadline: number];
type Breaker = CircuitBreaker<PingArgs, PingOutcome> | CircuitBreaker<PostArgs, PostOutcome>;

interface Held {
  campaignId: string;
  endpoint: Endpoint;
  settings: BreakerSettings;
  /** Settings and URL the breaker was built for: a change means a new breaker. */
  signature: string;
  breaker: Breaker;
}

class EndpointFailed extends Error {
  readonly outcome: unknown;

  constructor(outcome: unknown) {
    super('buyer endpoint failed');
    this.name = 'EndpointFailed';
    this.outcome = outcome;
  }
}

/** A ping failed when the buyer did not answer properly; a valid no-bid is a healthy answer. */
export function pingFailed(outcome: PingOutcome): boolean {
  return outcome.kind === 'no_bid' && outcome.reason !== 'no_bid' && outcome.reason !== 'breaker_open';
}

/**
 * A post failed when the buyer could not take it: timeout, network, 5xx, or an answer that is
 * not one. A refusal, a 4xx, a redirect or an oversized answer is the buyer answering.
 */
export function postFailed(outcome: PostOutcome): boolean {
  if (outcome.kind !== 'failed' || outcome.attempts === 0) return false;
  switch (outcome.reason) {
    case 'timeout':
    case 'network':
    case 'invalid_body':
      return true;
    case 'http_status':
      return (outcome.status ?? 0) >= 500;
    default:
      return false;
  }
}

// Inside a breaker a failing outcome is a rejection, so opossum counts it; outside it becomes the
// outcome again (see settleOutside).
function failedPingRejects(outcome: PingOutcome): PingOutcome {
  if (pingFailed(outcome)) throw new EndpointFailed(outcome);
  return outcome;
}

function failedPostRejects(outcome: PostOutcome): PostOutcome {
  if (postFailed(outcome)) throw new EndpointFailed(outcome);
  return outcome;
}

const pingAction = (inner: BuyerClient, campaign: CampaignWithSecret, body: PingBody, deadline: number): Promise<PingOutcome> =>
  inner.ping(campaign, body, deadline).then(failedPingRejects);

const postAction = (inner: BuyerClient, campaign: CampaignWithSecret, body: PostBody, idempotencyKey: string, deadline: number): Promise<PostOutcome> =>
  inner.post(campaign, body, idempotencyKey, deadline).then(failedPostRejects);

const breakerOpenPing = (): PingOutcome => ({ kind: 'no_bid', reason: 'breaker_open', latencyMs: 0 });
const breakerOpenPost = (): PostOutcome => ({ kind: 'failed', reason: 'breaker_open', latencyMs: 0, attempts: 0 });

/** A breaker's rejection as the port's outcome: the buyer's failure, or the breaker refusing. */
function settleOutside<T>(error: unknown, refused: () => T): T {
  if (error instanceof EndpointFailed) return error.outcome as T;
  // Opened (or its half-open probe taken) since the eligibility check: not sent.
  if (error instanceof Error && CircuitBreaker.isOurError(error)) return refused();
  throw error;
}

const settlePing = (error: unknown): PingOutcome => settleOutside(error, breakerOpenPing);
const settlePost = (error: unknown): PostOutcome => settleOutside(error, breakerOpenPost);

// Asked on every ping and post: computed once per campaign object. The catalog replaces a
// campaign's object when it changes, so a cached signature can never be stale.
const signatures = new WeakMap<CampaignWithSecret, { ping: string; post: string }>();

function signatureOf(campaign: CampaignWithSecret, endpoint: Endpoint): string {
  let known = signatures.get(campaign);
  if (known === undefined) {
    const s = breakerSettingsOf(campaign);
    const settings = [s.error_threshold_percentage, s.volume_threshold, s.rolling_window_ms, s.reset_timeout_ms];
    known = { ping: JSON.stringify([...settings, campaign.ping_url]), post: JSON.stringify([...settings, campaign.post_url]) };
    signatures.set(campaign, known);
  }
  return known[endpoint];
}

function stateOf(breaker: Breaker | undefined): BreakerState {
  if (breaker === undefined) return 'closed';
  if (breaker.opened) return 'open';
  return breaker.halfOpen ? 'half_open' : 'closed';
}

function statsOf(breaker: Breaker | undefined): EndpointStats {
  if (breaker === undefined) return { calls: 0, failures: 0, successes: 0, rejected: 0, error_percentage: 0 };
  const { fires, failures, successes, rejects } = breaker.stats;
  return {
    calls: fires,
    failures,
    successes,
    rejected: rejects,
    error_percentage: fires > 0 ? Math.round((failures / fires) * 100) : 0,
  };
}

export class BreakerBuyerClient implements BuyerClient, EndpointBreakers {
  readonly #inner: BuyerClient;
  readonly #now: () => number;
  readonly #held = new Map<string, Held>();

  constructor(inner: BuyerClient, options: BreakerBuyerClientOptions = {}) {
    this.#inner = inner;
    this.#now = options.now ?? Date.now;
  }

  /** How many breakers are held: one per campaign endpoint called since it was (re)configured. */
  get size(): number {
    return this.#held.size;
  }

  ping(campaign: CampaignWithSecret, body: PingBody, deadline: number): Promise<PingOutcome> {
    // A call whose deadline has passed never reaches the buyer (the store stalled, say): it says
    // nothing about the buyer's health, so it must not count against it.
    if (deadline <= this.#now()) return this.#inner.ping(campaign, body, deadline);
    const breaker = this.#breaker(campaign, 'ping') as CircuitBreaker<PingArgs, PingOutcome>;
    return breaker.fire(this.#inner, campaign, body, deadline).catch(settlePing);
  }

  post(campaign: CampaignWithSecret, body: PostBody, idempotencyKey: string, deadline: number): Promise<PostOutcome> {
    if (deadline <= this.#now()) return this.#inner.post(campaign, body, idempotencyKey, deadline);
    const breaker = this.#breaker(campaign, 'post') as CircuitBreaker<PostArgs, PostOutcome>;
    return breaker.fire(this.#inner, campaign, body, idempotencyKey, deadline).catch(settlePost);
  }

  blocked(campaign: CampaignWithSecret): Endpoint | null {
    for (const endpoint of ['ping', 'post'] as const) {
      const breaker = this.#current(campaign, endpoint);
      // Half-open with its probe not yet taken lets the next call through; with the probe in
      // flight it refuses like an open one.
      if (breaker !== undefined && !breaker.closed && !breaker.pendingClose) return endpoint;
    }
    return null;
  }

  report(campaign: CampaignWithSecret): BreakerReport {
    const ping = this.#current(campaign, 'ping');
    const post = this.#current(campaign, 'post');
    return {
      ping: stateOf(ping),
      post: stateOf(post),
      settings: breakerSettingsOf(campaign),
      stats: { ping: statsOf(ping), post: statsOf(post) },
    };
  }

  /**
   * Drops the breakers of campaigns no longer in the catalog, and of those whose thresholds or
   * endpoint changed (rebuilt, closed, on their next call). Call it on every catalog change.
   */
  prune(campaignById: (id: string) => CampaignWithSecret | undefined): void {
    for (const [key, held] of this.#held) {
      const campaign = campaignById(held.campaignId);
      if (campaign === undefined || signatureOf(campaign, held.endpoint) !== held.signature) this.#drop(key, held);
    }
  }

  retain(origins: Set<string>): Promise<void> {
    return this.#inner.retain(origins);
  }

  async close(): Promise<void> {
    for (const [key, held] of this.#held) this.#drop(key, held);
    await this.#inner.close();
  }

  /** The breaker now guarding this endpoint, if one exists for the campaign as configured. */
  #current(campaign: CampaignWithSecret, endpoint: Endpoint): Breaker | undefined {
    const held = this.#held.get(keyOf(campaign.id, endpoint));
    return held !== undefined && held.signature === signatureOf(campaign, endpoint) ? held.breaker : undefined;
  }

  #breaker(campaign: CampaignWithSecret, endpoint: Endpoint): Breaker {
    const key = keyOf(campaign.id, endpoint);
    const signature = signatureOf(campaign, endpoint);
    const held = this.#held.get(key);
    if (held !== undefined && held.signature === signature) return held.breaker;
    if (held !== undefined) this.#drop(key, held);
    const settings = breakerSettingsOf(campaign);
    const fresh: Held = { campaignId: campaign.id, endpoint, settings, signature, breaker: this.#build(key, endpoint, settings) };
    this.#watch(key, fresh);
    this.#held.set(key, fresh);
    return fresh.breaker;
  }

  #build(name: string, endpoint: Endpoint, settings: BreakerSettings): Breaker {
    const options: CircuitBreaker.Options = {
      name,
      // Deadlines are the buyer client's job; a second timer per call would only disagree with it.
      timeout: false,
      errorThresholdPercentage: settings.error_threshold_percentage,
      volumeThreshold: settings.volume_threshold,
      rollingCountTimeout: settings.rolling_window_ms,
      resetTimeout: settings.reset_timeout_ms,
      // Per-call latency arrays and periodic snapshot events are unused; skip their cost per call.
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
    };
    return endpoint === 'ping' ? new CircuitBreaker(pingAction, options) : new CircuitBreaker(postAction, options);
  }

  /**
   * opossum keeps the failures that opened a breaker in its window after a successful probe, so
   * one more failure would open it again at once. A recovered endpoint gets a clean window.
   */
  #watch(key: string, held: Held): void {
    held.breaker.on('close', () => {
      if (this.#held.get(key) !== held) return;
      const renewed: Held = { ...held, breaker: this.#build(key, held.endpoint, held.settings) };
      this.#watch(key, renewed);
      this.#held.set(key, renewed);
      held.breaker.shutdown();
    });
  }

  #drop(key: string, held: Held): void {
    this.#held.delete(key);
    held.breaker.shutdown();
  }
}

function keyOf(campaignId: string, endpoint: Endpoint): string {
  return `${campaignId}/${endpoint}`;
}
