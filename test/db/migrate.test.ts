import { readdir } from 'node:fs/promises';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { openPglite } from '../../src/db/database.ts';
import { MIGRATIONS_DIR, migrateToLatest, splitStatements } from '../../src/db/migrate.ts';
import { createTestDatabase } from '../support/database.ts';

describe('migrations', () => {
  it('split SQL files into statements, keeping quoted and dollar-quoted semicolons', () => {
    const text = "-- a; comment\ncreate table a (x text default 'a;b');\ncreate function f() returns int as $$ select 1; $$ language sql;\n";
    expect(splitStatements(text)).toEqual([
      "create table a (x text default 'a;b')",
      'create function f() returns int as $$ select 1; $$ language sql',
    ]);
  });

  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups) await cleanup();
  });

  it('create every table on real Postgres, and running again is a no-op', async () => {
    const database = await createTestDatabase('migrate');
    cleanups.push(() => database.close());
    const tables = await sql<{ table_name: string }>`
      select table_name from information_schema.tables where table_schema = ${database.schema} order by table_name`.execute(database.db);
    expect(tables.rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining(['affiliates', 'bids', 'buyers', 'campaigns', 'events', 'leads', 'pings', 'sales', 'verticals']),
    );
    expect(await migrateToLatest(database.db)).toEqual([]);
  });

  it('run on embedded PGlite, with cents read back as numbers and JSON as objects', async () => {
    const database = await openPglite(null);
    cleanups.push(() => database.close());
    const files = (await readdir(MIGRATIONS_DIR)).filter((name) => name.endsWith('.sql')).sort();
    expect(await migrateToLatest(database.db)).toEqual(files.map((name) => name.replace(/\.sql$/, '')));
    await database.db
      .insertInto('buyers')
      .values({ id: 'by_1', name: 'B', balance_cents: 12345, credit_limit_cents: 0, status: 'active', api_key_hash: 'h' })
      .execute();
    await database.db
      .insertInto('verticals')
      .values({ key: 'v', fields: JSON.stringify([{ name: 'a', type: 'string', required: true }]), max_shared: 3, exclusive_days: 30, duplicate_days: 30 })
      .execute();
    const buyer = await database.db.selectFrom('buyers').selectAll().executeTakeFirstOrThrow();
    expect(buyer.balance_cents).toBe(12345);
    const vertical = await database.db.selectFrom('verticals').selectAll().executeTakeFirstOrThrow();
    expect(vertical.fields).toEqual([{ name: 'a', type: 'string', required: true }]);
  });
});
