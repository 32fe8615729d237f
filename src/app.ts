// createApp(deps): the HTTP surface over already-built dependencies. main.ts builds the real
// ones from config; tests build them against real Postgres, Redis and buyer servers.
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Logger } from 'pino';
import type { AuditLog } from './audit/events.ts';
import type { BuyerClient } from './buyers/buyer-client.ts';
import type { Catalog } from './catalog/catalog.ts';
import type { Clock } from './clock/clock.ts';
import type { CatalogRepository } from './db/catalog-repository.ts';
import type { LeadRepository } from './db/lead-repository.ts';
import { PayloadTooLarge } from './errors/problems.ts';
import { Exchange } from './exchange/exchange.ts';
import type { ExchangeSettings } from './exchange/types.ts';
import { adminRoutes } from './http/admin/index.ts';
import { leadRoutes } from './http/lead-routes.ts';
import { opsRoutes, type Probe } from './http/ops-routes.ts';
import { errorHandler, notFoundHandler } from './http/problem-response.ts';
import type { Store } from './store/store.ts';

export interface AppDeps {
  catalog: Catalog;
  repository: CatalogRepository;
  leads: LeadRepository;
  store: Store;
  buyers: BuyerClient;
  audit: AuditLog;
  clock: Clock;
  random: () => number;
  log: Logger;
  settings: ExchangeSettings;
  adminToken: string;
  probes: Probe[];
  maxBodyBytes?: number;
}

export interface App {
  hono: Hono;
  exchange: Exchange;
}

export function createApp(deps: AppDeps): App {
  const exchange = new Exchange(deps);
  const hono = new Hono();
  hono.onError(errorHandler(deps.log));
  hono.notFound(notFoundHandler);
  hono.use(
    '/v1/*',
    bodyLimit({
      maxSize: deps.maxBodyBytes ?? 64 * 1024,
      onError: () => {
        throw new PayloadTooLarge(`Request bodies are limited to ${deps.maxBodyBytes ?? 64 * 1024} bytes`);
      },
    }),
  );
  hono.route('/', opsRoutes(deps.probes));
  hono.route('/v1/admin', adminRoutes(deps, deps.adminToken));
  hono.route('/v1', leadRoutes(deps.catalog, exchange));
  return { hono, exchange };
}
