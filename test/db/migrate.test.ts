import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
      expect.arrayContaining(['affiliates', 'buyers', 'campaign_activity', 'campaigns', 'event_chunks', 'events', 'leads', 'pings', 'sales', 'verticals']),
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

  it('compress a long timeline chunk with lz4 where the server has it, and read it back as written (0009)', async () => {
    const database = await createTestDatabase('migrate_lz4');
    cleanups.push(() => database.close());
    // The server offers lz4 among its compressors only when it was built with it.
    const offered = await sql<{ methods: string[] }>`
      select enumvals as methods from pg_settings where name = 'default_toast_compression'`.execute(database.db);
    const serverHasLz4 = offered.rows[0]!.methods.includes('lz4');
    // A direct auction's timeline: long enough that Postgres compresses the row.
    const events = Array.from({ length: 16 }, (_, i) => ({ at: 1_765_100_000_000 + i, type: 'campaign.pinged', campaign_id: `cp_${i}`, detail: { outcome: 'bid', bid: 12.5, bid_id: `b-${i}`.repeat(10), latency_ms: 3, status: 200 } }));
    const text = JSON.stringify(events);
    expect(text.length).toBeGreaterThan(2500);
    await sql`insert into event_chunks (lead_id, events) values ('ld_long', ${text}::json)`.execute(database.db);
    const stored = await sql<{ method: string | null; events: unknown }>`
      select pg_column_compression(events) as method, events from event_chunks where lead_id = 'ld_long'`.execute(database.db);
    expect(stored.rows[0]!.method).toBe(serverHasLz4 ? 'lz4' : 'pglz');
    expect(stored.rows[0]!.events).toEqual(events);
    const timeline = await sql<{ type: string }>`select type from events where lead_id = 'ld_long' order by id`.execute(database.db);
    expect(timeline.rows).toHaveLength(16);
  });

  it('carry a timeline written one row per event, and the bids table, over to event chunks and activity counts (0008)', async () => {
    const database = await createTestDatabase('migrate_chunks');
    cleanups.push(() => database.close());
    // This schema is already at the latest migration: start a second one at 0007 instead.
    const before = await mkdtemp(join(tmpdir(), 'leadex-migrations-'));
    cleanups.push(() => rm(before, { recursive: true, force: true }));
    const files = (await readdir(MIGRATIONS_DIR)).filter((name) => name.endsWith('.sql') && name < '0008').sort();
    for (const file of files) await copyFile(join(MIGRATIONS_DIR, file), join(before, file));
    await sql`create schema ${sql.id(`${database.schema}_old`)}`.execute(database.db);
    await database.db.connection().execute(async (db) => {
      await sql`set search_path to ${sql.id(`${database.schema}_old`)}`.execute(db);
      await migrateToLatest(db, before);
      await sql.raw(`
        insert into events (lead_id, at, type, campaign_id, detail) values
          ('ld_a', '2026-11-30T10:00:00.001Z', 'lead.received', null, '{"via":"direct"}'),
          ('ld_b', '2026-11-30T10:00:00.002Z', 'lead.received', null, '{"via":"ping"}'),
          ('ld_a', '2026-11-30T10:00:00.120Z', 'campaign.pinged', 'cp_1', '{"outcome":"bid","bid":12.5}'),
          ('ld_a', '2026-11-30T10:00:00.121Z', 'lead.sold', null, '{}');
        insert into bids (ping_id, lead_id, campaign_id, buyer_id, amount_cents, outcome, created_at) values
          ('pg_a', 'ld_a', 'cp_1', 'by_1', 1250, 'bid', '2026-11-30T10:00:00.120Z'),
          ('pg_b', 'ld_b', 'cp_1', 'by_1', null, 'no_bid', '2026-11-30T10:14:59.999Z'),
          ('pg_c', 'ld_c', 'cp_1', 'by_1', 900, 'bid', '2026-11-30T10:15:00.000Z');`).execute(db);
      await migrateToLatest(db);
      const timeline = await sql<{ lead_id: string; at: Date; type: string; campaign_id: string | null; detail: unknown }>`
        select lead_id, at, type, campaign_id, detail from events order by id`.execute(db);
      expect(timeline.rows.map((r) => [r.lead_id, r.at.toISOString(), r.type, r.campaign_id, r.detail])).toEqual([
        ['ld_a', '2026-11-30T10:00:00.001Z', 'lead.received', null, { via: 'direct' }],
        ['ld_a', '2026-11-30T10:00:00.120Z', 'campaign.pinged', 'cp_1', { outcome: 'bid', bid: 12.5 }],
        ['ld_a', '2026-11-30T10:00:00.121Z', 'lead.sold', null, {}],
        ['ld_b', '2026-11-30T10:00:00.002Z', 'lead.received', null, { via: 'ping' }],
      ]);
      const activity = await sql<{ bucket: Date; pings: string; bids: string }>`select bucket, pings, bids from campaign_activity order by bucket`.execute(db);
      expect(activity.rows.map((r) => [r.bucket.toISOString(), Number(r.pings), Number(r.bids)])).toEqual([
        ['2026-11-30T10:00:00.000Z', 2, 1],
        ['2026-11-30T10:15:00.000Z', 1, 1],
      ]);
      await sql`set search_path to ${sql.id(database.schema)}`.execute(db);
    });
    await sql`drop schema ${sql.id(`${database.schema}_old`)} cascade`.execute(database.db);
  });
});
