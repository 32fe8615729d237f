// Builds the exchange's dependencies: the real ones from config (main, demo), or around a
// database and store the caller already opened (tests, the multi-node harness).
import type { Logger } from 'pino';
import type { AppDeps } from './app.ts';
import { BatchAuditWriter } from './audit/batch-writer.ts';
import { DEFAULT_EVENT_LOG } from './audit/events.ts';
import { BreakerBuyerClient } from './buyers/breaker-buyer-client.ts';
import { HttpBuyerClient } from './buyers/http-buyer-client.ts';
import { Catalog } from './catalog/catalog.ts';
import { systemClock, type Clock } from './clock/clock.ts';
import type { Config } from './config/config.ts';
import { CatalogRepository } from './db/catalog-repository.ts';
import { openConfiguredDatabase, type Database } from './db/database.ts';
import { LeadRepository } from './db/lead-repository.ts';
import { LedgerRepository } from './db/ledger-repository.ts';
import { ReturnRepository } from './db/return-repository.ts';
import { migrateToLatest } from './db/migrate.ts';
import { regrouping } from './exchange/keys.ts';
import type { ExchangeSettings } from './exchange/types.ts';
import { configuredRateLimit, type RateLimit } from './http/rate-limit.ts';
import type { PiiCipher } from './pii/cipher.ts';
import { openPiiCipher, processPiiCipher } from './pii/keyring.ts';
import { HealthMonitor } from './health/health-monitor.ts';
import { DEFAULT_RETURN_SETTINGS, type ReturnSettings } from './returns/types.ts';
import { MemoryStore } from './store/memory-store.ts';
import { RedisStore } from './store/redis-store.ts';
import { ReservationCommitter } from './store/reservation-committer.ts';
import { PingSlots } from './exchange/ping-slots.ts';
import { startReservationSweeper } from './store/reservation-sweeper.ts';
import type { Store } from './store/store.ts';
import { createMetrics, watchValue, type Metrics } from './metrics/metrics.ts';

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
  /** Safety net for a missed change notice; default 30 s. */
  catalogRefreshMs?: number;
  /** Process metrics (CPU, memory, event loop) only for the real server, not per test app. */
  metrics?: Metrics;
  clock?: Clock;
  random?: () => number;
  eventFlushMs?: number;
  eventBatchSize?: number;
  sweepIntervalMs?: number;
  returnSettings?: ReturnSettings;
  /** Seals leads' personal data; absent: a random key shared by this process only (tests). */
  pii?: PiiCipher;
  /** Default per-affiliate rate on the lead endpoints; absent or null: only affiliates' own limits. */
  affiliateRateLimit?: RateLimit | null;
  /** Pings in flight on this node at most (src/exchange/ping-slots.ts); absent: unbounded. */
  maxPingsInFlight?: number;
}

export function settingsFrom(config: Config): ExchangeSettings {
  return { tmaxMs: config.AUCTION_TMAX_MS, holdTtlMs: config.HOLD_TTL_S * 1000, postDeadlineMs: config.POST_DEADLINE_MS };
}

export async function openRuntime(config: Config, log: Logger): Promise<Runtime> {
  // Before the database: a key problem must stop the start, not surface on the first lead.
  const pii = openPiiCipher(config, log);
  const database = await openConfiguredDatabase(config);
  await migrateToLatest(database.db);
  const store: Store = config.REDIS_URL ? new RedisStore({ url: config.REDIS_URL, keyPrefix: config.REDIS_KEY_PREFIX }) : new MemoryStore();
  const runtime = await buildRuntime({
    database,
    store,
    log,
    settings: settingsFrom(config),
    eventFlushMs: config.EVENT_FLUSH_MS,
    eventBatchSize: config.EVENT_BATCH_SIZE,
    sweepIntervalMs: config.SWEEP_INTERVAL_MS,
    metrics: createMetrics({ processMetrics: true }),
    returnSettings: { windowDays: config.RETURN_WINDOW_DAYS },
    pii,
    affiliateRateLimit: configuredRateLimit(config),
    maxPingsInFlight: config.MAX_PINGS_IN_FLIGHT,
  });
  const sealed = await runtime.deps.leads.sealLegacyRows();
  if (sealed > 0) log.info({ leads: sealed }, 'encrypted the personal data of leads stored before encryption at rest');
  await regroupConsumerHistory(store, log);
  return runtime;
}

/**
 * Consumer history kept by an earlier version, a value per fact, moves into one hash per contact
 * (src/exchange/keys.ts) before the first lead. A store that cannot be reached now does not stop
 * the start (the exchange refuses leads while it is down); the move is tried again at the next
 * start, and until then auctions do not see those older facts, which the error says.
 */
async function regroupConsumerHistory(store: Store, log: Logger): Promise<void> {
  try {
    const moved = await store.regroupValues(regrouping.kinds, regrouping.into);
    if (moved > 0) log.info({ values: moved }, 'moved consumer history kept as separate values into one hash per contact');
  } catch (error) {
    log.error({ err: error }, 'could not move consumer history kept as separate values: auctions miss it until a start moves it');
  }
}

export async function buildRuntime(parts: RuntimeParts): Promise<Runtime> {
  const { database, store, log } = parts;
  const clock = parts.clock ?? systemClock;
  const repository = new CatalogRepository(database.db);
  const catalog = new Catalog(repository);
  await catalog.reload();
  // Admin changes made on any node reach this one over the store (Redis pub/sub) within a second;
  // the periodic reload covers a notice lost while the store was unreachable.
  catalog.announce = () => store.announceConfigChange();
  const reloadQuietly = () => void catalog.reload().catch((error: unknown) => log.warn({ err: error }, 'configuration reload failed'));
  const stopListening = await store.onConfigChange(reloadQuietly);
  const periodicReload = setInterval(reloadQuietly, parts.catalogRefreshMs ?? 30_000);
  periodicReload.unref();
  const leads = new LeadRepository(database.db, parts.pii ?? processPiiCipher());
  const audit = new BatchAuditWriter(database.db, {
    flushIntervalMs: parts.eventFlushMs ?? DEFAULT_EVENT_LOG.flushIntervalMs,
    batchSize: parts.eventBatchSize ?? DEFAULT_EVENT_LOG.batchSize,
    onError: (error) => log.warn({ err: error }, 'audit log write failed; will retry'),
  });
  const buyers = new BreakerBuyerClient(new HttpBuyerClient({ now: () => clock.now() }), { now: () => clock.now() });
  // Deleted or reconfigured campaigns give back their breakers, and unused origins their pools.
  const dropUnused = catalog.onChange(() => {
    buyers.prune((id) => catalog.campaign(id));
    void buyers.retain(catalog.origins());
  });
  const probes = [
    { name: 'postgres', check: () => leads.ping() },
    { name: store.kind, check: () => store.ping() },
  ];
  // Probing twice a second bounds how long an outage goes unnoticed (and a recovery unused).
  const health = new HealthMonitor(probes, {
    intervalMs: 500,
    timeoutMs: 1000,
    onChange: (name, up, error) =>
      up ? log.info({ dependency: name }, 'dependency is back: accepting leads') : log.error({ dependency: name, err: error }, 'dependency is down: refusing leads'),
  }).start();
  const commits = new ReservationCommitter(store, {
    onError: (error, ids) => log.warn({ err: error, reservations: ids.length }, 'committing cap reservations failed; will retry'),
  });
  const sweeper = startReservationSweeper(store, {
    intervalMs: parts.sweepIntervalMs ?? 1000,
    now: () => clock.now(),
    onReleased: (ids) => log.info({ reservations: ids.length }, 'released expired reservations'),
    onError: (error) => log.warn({ err: error }, 'reservation sweep failed'),
  });

  const metrics = parts.metrics ?? createMetrics();
  const pingSlots = parts.maxPingsInFlight ? new PingSlots(parts.maxPingsInFlight) : undefined;
  if (pingSlots) {
    watchValue(metrics, 'leadex_ping_slots', 'Pings this node may have in flight at once (MAX_PINGS_IN_FLIGHT)', () => pingSlots.capacity);
    watchValue(metrics, 'leadex_pings_in_flight', 'Ping slots taken by auctions in their ping phase', () => pingSlots.inFlight);
    watchValue(metrics, 'leadex_auctions_waiting_for_ping_slots', 'Auctions queued for ping slots (the node is at capacity)', () => pingSlots.queued);
  }

  return {
    database,
    deps: {
      catalog,
      repository,
      leads,
      store,
      buyers,
      breakers: buyers,
      excludeBeforePing: (campaign) => (buyers.blocked(campaign) === null ? null : 'breaker_open'),
      ...(pingSlots ? { pingSlots } : {}),
      audit,
      clock,
      random: parts.random ?? Math.random,
      log,
      settings: parts.settings,
      affiliateRateLimit: parts.affiliateRateLimit ?? null,
      returnRepository: new ReturnRepository(database.db),
      ledger: new LedgerRepository(database.db),
      returnSettings: parts.returnSettings ?? DEFAULT_RETURN_SETTINGS,
      availability: health,
      commits,
      probes,
      metrics,
    },
    close: async () => {
      clearInterval(periodicReload);
      await stopListening();
      dropUnused();
      await health.stop();
      await sweeper.stop();
      if (!(await commits.drain(2000))) log.error({ reservations: commits.pending }, 'cap reservations of recorded sales left uncommitted at shutdown');
      await audit.close().catch((error: unknown) => log.error({ err: error }, 'audit log could not be flushed at shutdown'));
      await buyers.close();
      await store.close();
      await database.close();
    },
  };
}
