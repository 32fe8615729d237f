// Opens the database: a real Postgres when DATABASE_URL is set, else embedded PGlite so a
// fresh clone runs with nothing installed.
import { mkdirSync } from 'node:fs';
import { Kysely, PGliteDialect, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { DB } from './schema.ts';
import { preparingPool } from './prepared-statements.ts';
import { QueryDeadlines } from './query-deadlines.ts';

export interface Database {
  readonly db: Kysely<DB>;
  readonly kind: 'postgres' | 'pglite';
  close(): Promise<void>;
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;

export interface PostgresOptions {
  url: string;
  /** Isolates a test run in its own schema. */
  searchPath?: string;
  maxConnections?: number;
  /** How long a query may go unanswered before it fails as a connection failure. Default 10 000. */
  queryTimeoutMs?: number;
}

export function openPostgres(options: PostgresOptions): Database {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 10,
    // Without these (and the query deadlines below) a dead database makes queries hang instead
    // of failing into a 503.
    connectionTimeoutMillis: 2000,
    keepAlive: true,
    // pg's default closes a connection after 10 s idle. The pool hands out the connection used
    // last, so at a steady rate one or two connections carry the load and the rest close, to be
    // opened again, cold, by the next burst: a new backend, its statements prepared anew, when a
    // burst is already queueing. Idle connections are cheap for Postgres; cold ones are not.
    idleTimeoutMillis: 5 * 60_000,
    ...(options.searchPath ? { options: `-c search_path=${options.searchPath}` } : {}),
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
        if (oid === INT8_OID || oid === NUMERIC_OID) return (value: string) => Number(value);
        return pg.types.getTypeParser(oid, format as 'text');
      }) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client dying (database restart) must not crash the process.
  pool.on('error', () => {});
  // Nor a client in use: the pool listens only to idle ones, and a checked-out client whose
  // connection drops emits 'error' besides failing its query (which is how the caller learns).
  pool.on('connect', (client) => client.on('error', () => {}));
  const deadlines = new QueryDeadlines(options.queryTimeoutMs ?? 10_000);
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: preparingPool(pool, deadlines) }) });
  return {
    db,
    kind: 'postgres',
    close: async () => {
      await db.destroy();
      deadlines.close();
    },
  };
}

export async function openPglite(dataDir: string | null): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const pglite = new PGlite(dataDir ?? undefined, {
    parsers: { [INT8_OID]: (value: string) => Number(value), [NUMERIC_OID]: (value: string) => Number(value) },
  });
  await pglite.waitReady;
  const db = new Kysely<DB>({ dialect: new PGliteDialect({ pglite }) });
  return { db, kind: 'pglite', close: () => db.destroy() };
}

/** The database the configuration asks for: Postgres when DATABASE_URL is set, else embedded. */
export async function openConfiguredDatabase(config: { DATABASE_URL?: string | undefined; DATA_DIR: string }): Promise<Database> {
  if (config.DATABASE_URL) return openPostgres({ url: config.DATABASE_URL });
  return openPglite(config.DATA_DIR === 'memory://' ? null : config.DATA_DIR);
}
