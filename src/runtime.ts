// Builds the exchange's dependencies: the real ones from config (main, demo), or around a
// database and store the caller already opened (tests, the multi-node harness).
import type { Logger } from 'pino';
import type { AppDeps } from './app.ts';
import { BatchAuditWriter } from './audit/batch-writer.ts';
import { HttpBuyerClient } from './buyers/http-buyer-client.ts';
import { Catalog } from './catalog/catalog.ts';
import { systemClock, type Clock } from './clock/clock.ts';
import type { Config } from './config/config.ts';
import { CatalogRepository } from './db/catalog-repository.ts';
import { openConfiguredDatabase, type Database } from './db/database.ts';
import { LeadRepository } from './db/lead-repository.ts';
import { migrateToLatest } from './db/migrate.ts';
import type { ExchangeSettings } from './exchange/types.ts';
import { MemoryStore } from './store/memory-store.ts';
import { RedisStore } from './store/redis-store.ts';
import { startReservationSweeper } from './store/reservation-sweeper.ts';
import type { Store } from './store/store.ts';

export interface Runtime {
  deps: Omit<AppDeps, 'adminToken'>;
  database: Database;
  close(): Promise<void>;
}

export interface RuntimeParts {
  database: Database;
  store: Store;
  log: Logger;
  settings: ExchangeSettings;
  clock?: Clock;
  random?: () => number;
  eventFlushMs?: number;
  eventBatchSize?: number;
  sweepIntervalMs?: number;
}

export function settingsFrom(config: Config): ExchangeSettings {
  return { tmaxMs: config.AUCTION_TMAX_MS, holdTtlMs: config.HOLD_TTL_S * 1000, postDeadlineMs: config.POST_DEADLINE_MS };
}

export async function openRuntime(config: Config, log: Logger): Promise<Runtime> {
  const database = await openConfiguredDatabase(config);
  await migrateToLatest(database.db);
  const store: Store = config.REDIS_URL ? new RedisStore({ url: config.REDIS_URL, keyPrefix: config.REDIS_KEY_PREFIX }) : new MemoryStore();
  return buildRuntime({
    database,
    store,
    log,
    settings: settingsFrom(config),
    eventFlushMs: config.EVENT_FLUSH_MS,
    eventBatchSize: config.EVENT_BATCH_SIZE,
    sweepIntervalMs: config.SWEEP_INTERVAL_MS,
  });
}

export async function buildRuntime(parts: RuntimeParts): Promise<Runtime> {
  const { database, store, log } = parts;
  const clock = parts.clock ?? systemClock;
  const repository = new CatalogRepository(database.db);
  const catalog = new Catalog(repository);
  await catalog.reload();
  const leads = new LeadRepository(database.db);
  const audit = new BatchAuditWriter(database.db, {
    flushIntervalMs: parts.eventFlushMs ?? 50,
    batchSize: parts.eventBatchSize ?? 500,
    onError: (error) => log.warn({ err: error }, 'audit log write failed; will retry'),
  });
  const buyers = new HttpBuyerClient({ now: () => clock.now() });
  const dropUnusedPools = catalog.onChange(() => void buyers.retain(catalog.origins()));
  const sweeper = startReservationSweeper(store, {
    intervalMs: parts.sweepIntervalMs ?? 1000,
    now: () => clock.now(),
    onReleased: (ids) => log.info({ reservations: ids.length }, 'released expired reservations'),
    onError: (error) => log.warn({ err: error }, 'reservation sweep failed'),
  });

  return {
    database,
    deps: {
      catalog,
      repository,
      leads,
      store,
      buyers,
      audit,
      clock,
      random: parts.random ?? Math.random,
      log,
      settings: parts.settings,
      probes: [
        { name: 'postgres', check: () => leads.ping() },
        { name: store.kind, check: () => store.ping() },
      ],
    },
    close: async () => {
      dropUnusedPools();
      await sweeper.stop();
      await audit.close().catch((error: unknown) => log.error({ err: error }, 'audit log could not be flushed at shutdown'));
      await buyers.close();
      await store.close();
      await database.close();
    },
  };
}
