// A Postgres that stops answering must fail the query into a 503, not hang it: every query has
// a deadline, and the connection it was on is not used again.
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { openPostgres, type Database } from '../../src/db/database.ts';
import { isConnectionFailure } from '../../src/db/pg-errors.ts';
import { TEST_DATABASE_URL } from '../support/services.ts';

let database: Database | undefined;

afterEach(async () => {
  await database?.close();
  database = undefined;
});

const backendPid = async (db: Database): Promise<number> =>
  (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db.db)).rows[0]!.pid;

describe('query deadlines', () => {
  it('fail a query Postgres leaves unanswered as a connection failure, within its timeout', async () => {
    database = openPostgres({ url: TEST_DATABASE_URL, maxConnections: 1, queryTimeoutMs: 300 });
    const before = await backendPid(database);

    const started = Date.now();
    const error = await sql`select pg_sleep(5)`.execute(database.db).then(
      () => null,
      (e: unknown) => e,
    );
    const waited = Date.now() - started;
    expect(error).toBeInstanceOf(Error);
    expect(isConnectionFailure(error)).toBe(true);
    expect(waited).toBeGreaterThanOrEqual(300);
    expect(waited).toBeLessThan(2000);

    // The one connection was given up, so the next query runs on a new one, at once.
    const next = Date.now();
    const after = await backendPid(database);
    expect(after).not.toBe(before);
    expect(Date.now() - next).toBeLessThan(2000);
  });

  it('leave a query that answers in time alone', async () => {
    database = openPostgres({ url: TEST_DATABASE_URL, maxConnections: 1, queryTimeoutMs: 1000 });
    const before = await backendPid(database);
    await sql`select pg_sleep(0.2)`.execute(database.db);
    expect(await backendPid(database)).toBe(before);
  });
});
