// A whole exchange for a test file: real Postgres (own schema), real Redis (own key prefix),
// served over HTTP on a random loopback port, plus an operator client to configure it.
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import type { Logger } from 'pino';
import { createApp, type App } from '../../src/app.ts';
import { buildRuntime, type Runtime } from '../../src/runtime.ts';
import type { ExchangeSettings } from '../../src/exchange/types.ts';
import type { RateLimit } from '../../src/http/rate-limit.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { PiiCipher } from '../../src/pii/cipher.ts';
import { MemoryStore } from '../../src/store/memory-store.ts';
import { RedisStore } from '../../src/store/redis-store.ts';
import type { Store } from '../../src/store/store.ts';
import type { Clock } from '../../src/clock/clock.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { forgetRedisPrefix, TEST_REDIS_URL, uniqueName } from './services.ts';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface TestExchange {
  url: string;
  app: App;
  runtime: Runtime;
  database: TestDatabase;
  store: Store;
  admin: Operator;
  /** Calls an endpoint with JSON; returns status, headers and parsed body. */
  call(method: string, path: string, options?: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> }): Promise<CallResult>;
  close(): Promise<void>;
}

export interface CallResult {
  status: number;
  headers: Headers;
  body: any;
  elapsedMs: number;
}

export interface ExchangeOptions {
  label: string;
  settings?: Partial<ExchangeSettings>;
  store?: 'redis' | 'memory';
  /** Servers of the test's own (test/support/own-services.ts) instead of the shared ones. */
  databaseUrl?: string;
  redisUrl?: string;
  /** Default: the production logger (with its redaction), silent unless TEST_LOG_LEVEL says otherwise. */
  log?: Logger;
  pii?: PiiCipher;
  affiliateRateLimit?: RateLimit | null;
  /** Pins the exchange's clock, e.g. offsetClock() to a given local time. */
  clock?: Clock;
  /** Bounds the pings in flight (src/exchange/ping-slots.ts); default: unbounded. */
  maxPingsInFlight?: number;
  /** Wraps the real store, e.g. in test/support/counting-store.ts to count its calls. */
  wrapStore?: (store: Store) => Store;
}

/** A clock that runs at real speed from `at`: timers and deadlines still behave. */
export function offsetClock(at: string | number): Clock {
  const offset = new Date(at).getTime() - Date.now();
  return { now: () => Date.now() + offset };
}

export async function startExchange(options: ExchangeOptions): Promise<TestExchange> {
  const database = await createTestDatabase(options.label, options.databaseUrl);
  const redisPrefix = options.store === 'memory' ? null : `${uniqueName(options.label)}:`;
  const real: Store =
    redisPrefix === null ? new MemoryStore() : new RedisStore({ url: options.redisUrl ?? TEST_REDIS_URL, keyPrefix: redisPrefix });
  const store = options.wrapStore ? options.wrapStore(real) : real;
  const runtime = await buildRuntime({
    database,
    store,
    log: options.log ?? createLogger({ level: (process.env.TEST_LOG_LEVEL as 'info' | undefined) ?? 'silent' }),
    pii: options.pii,
    affiliateRateLimit: options.affiliateRateLimit,
    settings: { tmaxMs: 800, holdTtlMs: 30_000, postDeadlineMs: 5000, ...options.settings },
    eventFlushMs: 20,
    sweepIntervalMs: 100,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.maxPingsInFlight ? { maxPingsInFlight: options.maxPingsInFlight } : {}),
  });
  const app = createApp({ ...runtime.deps, adminToken: ADMIN_TOKEN });
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.hono.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const call: TestExchange['call'] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined;
    if (opts.raw !== undefined) body = opts.raw;
    else if (opts.body !== undefined) body = JSON.stringify(opts.body);
    if (body !== undefined && !('content-type' in headers)) headers['content-type'] = 'application/json';
    const started = performance.now();
    const response = await fetch(`${url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await response.text();
    const elapsedMs = performance.now() - started;
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // leave as text
    }
    return { status: response.status, headers: response.headers, body: parsed, elapsedMs };
  };

  return {
    url,
    app,
    runtime,
    database,
    store,
    admin: new Operator(call),
    call,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // Closes the store and the database, whose close drops the test schema.
      await runtime.close();
      // On the shared Redis only: a test's own server goes away with its keys (and may be down).
      if (redisPrefix !== null && options.redisUrl === undefined) await forgetRedisPrefix(redisPrefix);
    },
  };
}

/** The admin API, as an operator script would use it. Throws on anything but success. */
export class Operator {
  readonly #call: TestExchange['call'];

  constructor(call: TestExchange['call']) {
    this.#call = call;
  }

  async request(method: string, path: string, body?: unknown): Promise<any> {
    const result = await this.#call(method, `/v1/admin${path}`, { token: ADMIN_TOKEN, body });
    if (result.status >= 300) throw new Error(`${method} ${path} → ${result.status}: ${JSON.stringify(result.body)}`);
    return result.body;
  }

  vertical(overrides: Record<string, unknown> = {}): Promise<any> {
    return this.request('POST', '/verticals', {
      key: 'auto_insurance',
      fields: [
        { name: 'state', type: 'string', required: true },
        { name: 'zip', type: 'string', required: true },
        { name: 'age', type: 'integer', required: true },
        { name: 'credit', type: 'string', enum: ['poor', 'fair', 'good', 'excellent'] },
      ],
      ...overrides,
    });
  }

  affiliate(overrides: Record<string, unknown> = {}): Promise<{ id: string; api_key: string }> {
    return this.request('POST', '/affiliates', { name: 'Affiliate', payout: { type: 'revshare', percent: 80 }, ...overrides });
  }

  buyer(overrides: Record<string, unknown> = {}): Promise<{ id: string; api_key: string }> {
    return this.request('POST', '/buyers', { name: 'Buyer', balance: 10_000, ...overrides });
  }

  campaign(fields: Record<string, unknown>): Promise<{ id: string; signing_secret: string }> {
    return this.request('POST', '/campaigns', {
      name: 'Campaign',
      vertical: 'auto_insurance',
      mode: 'exclusive',
      pricing: { type: 'bid' },
      timeout_ms: 500,
      ...fields,
    });
  }

  /** Pauses every other campaign, so a test sees only the ones it set up. */
  async activateOnly(ids: string[]): Promise<void> {
    const list = await this.request('GET', '/campaigns?limit=100');
    for (const campaign of list.items) {
      const wanted = ids.includes(campaign.id);
      if ((campaign.status === 'active') !== wanted) {
        await this.request('PATCH', `/campaigns/${campaign.id}`, { status: wanted ? 'active' : 'paused' });
      }
    }
  }

  lead(id: string, reveal = false): Promise<any> {
    return this.request('GET', `/leads/${id}${reveal ? '?reveal=contact' : ''}`);
  }
}

let counter = 0;

/** A valid lead of the default vertical; each call is a different consumer. */
export function sampleLead(overrides: Record<string, unknown> = {}): Record<string, any> {
  counter += 1;
  const n = String(1000 + (counter % 9000)).padStart(4, '0');
  return {
    vertical: 'auto_insurance',
    data: { state: 'CA', zip: '90210', age: 34, credit: 'good' },
    contact: {
      first_name: 'Ada',
      last_name: 'Lovelace',
      email: `ada.${process.pid}.${counter}@example.com`,
      phone: `+1310555${n}`,
      address: '1 Main St',
      city: 'Beverly Hills',
    },
    consent: { tcpa: true, text: 'I agree to be contacted', captured_at: '2026-11-22T10:00:00Z', ip: '203.0.113.7' },
    source: { sub_id: 'fb-campaign-12', url: 'https://example.com/quote' },
    ...overrides,
  };
}
