// createApp(deps): the HTTP surface over already-built dependencies. main.ts builds the real
// ones from config; tests build them against real Postgres, Redis and buyer servers.
import { Hono } from 'hono';
import type { Logger } from 'pino';
import type { Metrics } from './metrics/metrics.ts';
import type { AuditLog } from './audit/events.ts';
import type { BuyerClient } from './buyers/buyer-client.ts';
import type { EndpointBreakers } from './buyers/endpoint-breakers.ts';
import type { Catalog } from './catalog/catalog.ts';
import type { Clock } from './clock/clock.ts';
import type { CatalogRepository } from './db/catalog-repository.ts';
import type { LeadRepository } from './db/lead-repository.ts';
import type { LedgerRepository } from './db/ledger-repository.ts';
import type { ReturnRepository } from './db/return-repository.ts';
import { Exchange } from './exchange/exchange.ts';
import type { ExchangeDeps, ExchangeSettings } from './exchange/types.ts';
import { adminRoutes } from './http/admin/index.ts';
import { InFlightTracker } from './http/in-flight.ts';
import { leadRoutes } from './http/lead-routes.ts';
import { limitAffiliateRate, type RateLimit } from './http/rate-limit.ts';
import { returnRoutes } from './http/return-routes.ts';
import { opsRoutes, type Probe } from './http/ops-routes.ts';
import { openApiRoutes } from './http/openapi.ts';
import { bodyLimit } from './http/body-limit.ts';
import { errorHandler, notFoundHandler } from './http/problem-response.ts';
import { Returns } from './returns/returns.ts';
import type { ReturnSettings } from './returns/types.ts';
import type { ReservationCommitter } from './store/reservation-committer.ts';
import type { Store } from './store/store.ts';
import type { Availability } from './exchange/availability.ts';

export interface AppDeps {
  catalog: Catalog;
  repository: CatalogRepository;
  leads: LeadRepository;
  store: Store;
  buyers: BuyerClient;
  breakers: EndpointBreakers;
  excludeBeforePing?: ExchangeDeps['excludeBeforePing'];
  pingSlots?: ExchangeDeps['pingSlots'];
  audit: AuditLog;
  clock: Clock;
  random: () => number;
  log: Logger;
  metrics: Metrics;
  settings: ExchangeSettings;
  returnRepository: ReturnRepository;
  ledger: LedgerRepository;
  returnSettings: ReturnSettings;
  availability: Availability;
  commits: ReservationCommitter;
  adminToken: string;
  probes: Probe[];
  maxBodyBytes?: number;
  /** Default per-affiliate rate on the lead endpoints; absent or null: only affiliates' own limits. */
  affiliateRateLimit?: RateLimit | null;
}

export interface App {
  hono: Hono;
  exchange: Exchange;
  /** Also where budget tracking subscribes to return credits (Returns#onCredit). */
  returns: Returns;
  /** The lead requests being served: graceful shutdown waits for them (src/shutdown.ts). */
  inFlight: InFlightTracker;
}

export function createApp(deps: AppDeps): App {
  const exchange = new Exchange(deps);
  const returns = new Returns(deps);
  const hono = new Hono();
  hono.onError(errorHandler(deps.log));
  hono.notFound(notFoundHandler);
  hono.use('/v1/*', bodyLimit(deps.maxBodyBytes ?? 64 * 1024));
  const inFlight = new InFlightTracker();
  hono.route('/', opsRoutes([...deps.probes, inFlight.probe], deps.metrics.registry));
  hono.route('/', openApiRoutes());
  // Before the lead routes, so it wraps them.
  for (const path of ['/v1/leads', '/v1/ping', '/v1/post']) hono.use(path, inFlight.middleware);
  hono.route('/v1/admin', adminRoutes({ ...deps, returns }, deps.adminToken));
  hono.route('/v1/returns', returnRoutes(deps.catalog, returns));
  hono.route('/v1', leadRoutes(deps.catalog, exchange, limitAffiliateRate(deps.store, deps.clock, deps.affiliateRateLimit ?? null)));
  return { hono, exchange, returns, inFlight };
}
