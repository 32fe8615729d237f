// Named prepared statements for the hot path's fixed SQL. Postgres parses, analyses and plans an
// unnamed statement on every call; for the lead record and the event batch (one of each per few
// leads) that was about half of each round trip. A statement whose SQL starts with
// preparedAs(name) is sent named, so each connection prepares it once; everything else stays
// unnamed. The mark is an SQL comment: PGlite, or any other driver, simply ignores it.
import type { PostgresPool, PostgresPoolClient } from 'kysely';
import type pg from 'pg';
import type { QueryDeadlines, TimedClient } from './query-deadlines.ts';

const MARK = '/* prepared:';
const MARK_END = ' */';

/** Prefix for a statement's SQL: `sql\`${sql.raw(preparedAs('x'))} insert …\``. Names must be unique per text. */
export function preparedAs(name: string): string {
  if (!/^[a-z0-9_]+$/.test(name)) throw new RangeError(`prepared statement names are [a-z0-9_]+, got ${name}`);
  return `${MARK}${name}${MARK_END} `;
}

function nameOf(sql: string): string | null {
  if (!sql.startsWith(MARK)) return null;
  const end = sql.indexOf(MARK_END, MARK.length);
  return end < 0 ? null : sql.slice(MARK.length, end);
}

/**
 * The pool Kysely is given: pg's own, with marked statements sent as named ones, and every query
 * bounded by `deadlines`. Kysely keeps one connection object per client it is handed (in a
 * WeakMap), so each pooled client gets one wrapper for its whole life: a new wrapper per checkout
 * was a new connection object and a new WeakMap entry per query, which only a full garbage
 * collection cleared.
 */
export function preparingPool(pool: pg.Pool, deadlines: QueryDeadlines): PostgresPool {
  const wrappers = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  return {
    options: pool.options,
    end: () => pool.end(),
    connect: async (): Promise<PostgresPoolClient> => {
      const client = await pool.connect();
      let wrapper = wrappers.get(client);
      if (wrapper === undefined) {
        wrapper = wrap(client, deadlines);
        wrappers.set(client, wrapper);
      }
      return wrapper;
    },
  };
}

function wrap(client: pg.PoolClient, deadlines: QueryDeadlines): PostgresPoolClient {
  const timed: TimedClient = { client, timedOut: false };
  return {
    get processID() {
      return (client as unknown as { processID?: number }).processID;
    },
    query: ((sql: unknown, parameters?: ReadonlyArray<unknown>) => {
      // Anything but SQL text (a cursor, say) is pg's to run as it is.
      if (typeof sql !== 'string') return client.query(sql as string, parameters as unknown[]);
      const name = nameOf(sql);
      const values = parameters as unknown[] | undefined;
      const config: pg.QueryConfig = name === null ? { text: sql, values } : { name, text: sql, values };
      // pg's callback form: its promise form puts on each query a callback that closes over the
      // query, which kept queries alive as src/db/query-deadlines.ts tells.
      return new Promise<pg.QueryResult>((resolve, reject) => {
        const pending = deadlines.start(timed, reject);
        client.query(config, (error: Error | undefined, result: pg.QueryResult) => {
          deadlines.end(pending);
          if (error) reject(error);
          else resolve(result);
        });
      });
    }) as unknown as PostgresPoolClient['query'],
    // A client whose query went unanswered leaves the pool (pg-pool destroys what it is given `true` for).
    release: (destroy?: boolean) => client.release(destroy === true || timed.timedOut ? true : undefined),
  };
}
