// The hot path's fixed statements (the lead record, the event batch) go to Postgres as named
// prepared statements, parsed and planned once per connection; PGlite runs the same SQL as is.
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchAuditWriter } from '../../src/audit/batch-writer.ts';
import { openPglite, openPostgres, type Database } from '../../src/db/database.ts';
import { LeadRepository } from '../../src/db/lead-repository.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { preparedAs, preparingPool } from '../../src/db/prepared-statements.ts';
import { QueryDeadlines } from '../../src/db/query-deadlines.ts';
import type { NewLead } from '../../src/db/schema.ts';
import { PiiCipher } from '../../src/pii/cipher.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { leadRecord } from '../support/lead-records.ts';
import { TEST_DATABASE_URL } from '../support/services.ts';

const pii = new PiiCipher([{ id: 'k1', key: randomBytes(32) }], 'k1');
let n = 0;
function lead(): NewLead {
  n += 1;
  return leadRecord(`ld_prep_${n}`, 'af_prep', { vertical: 'solar', contact: '{"email":"a@example.com"}', created_at: new Date() });
}

async function addAffiliate(database: Database): Promise<void> {
  await database.db.insertInto('affiliates').values({ id: 'af_prep', name: 'A', payout: '{"type":"fixed","amount":1}', status: 'active', api_key_hash: 'h-prep' }).execute();
}

describe('prepared statements on Postgres', () => {
  let schema: TestDatabase;
  let oneConnection: Database;

  beforeAll(async () => {
    schema = await createTestDatabase('prepared');
    await addAffiliate(schema);
    // One connection, so the session the view describes is the one that ran the statements.
    oneConnection = openPostgres({ url: TEST_DATABASE_URL, searchPath: schema.schema, maxConnections: 1 });
  });

  afterAll(async () => {
    await oneConnection?.close();
    await schema?.close();
  });

  it('prepare the lead record and the event batch once per connection, and nothing else', async () => {
    const leads = new LeadRepository(oneConnection.db, pii);
    for (let i = 0; i < 3; i++) await leads.recordLead(lead(), []);
    const audit = new BatchAuditWriter(oneConnection.db, { flushIntervalMs: 10_000, batchSize: 1000 });
    audit.event({ lead_id: 'ld_prep_1', at: Date.now(), type: 'lead.received', campaign_id: null, detail: {} });
    await audit.flush();
    await oneConnection.db.selectFrom('leads').select('id').execute();

    const prepared = await sql<{ name: string }>`select name from pg_prepared_statements order by name`.execute(oneConnection.db);
    expect(prepared.rows.map((row) => row.name)).toEqual(['leadex_record_leads', 'leadex_write_events']);
    expect(await oneConnection.db.selectFrom('leads').select('id').where('id', 'like', 'ld_prep_%').execute()).toHaveLength(3);
  });

  it('hand Kysely one connection per pooled client, not a new one per checkout', async () => {
    // Kysely keeps a connection object per client it is given; a fresh wrapper per query was a
    // fresh connection object (and WeakMap entry) per query.
    const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
    const deadlines = new QueryDeadlines(10_000);
    try {
      const preparing = preparingPool(pool, deadlines);
      const first = await preparing.connect();
      first.release();
      const second = await preparing.connect();
      second.release();
      expect(second).toBe(first);
    } finally {
      deadlines.close();
      await pool.end();
    }
  });

  it('refuse a statement name that could not be a plain SQL comment', () => {
    expect(() => preparedAs('x */ drop table leads; /*')).toThrow(RangeError);
  });
});

describe('the same statements on embedded PGlite', () => {
  let embedded: Database;

  beforeAll(async () => {
    embedded = await openPglite(null);
    await migrateToLatest(embedded.db);
    await addAffiliate(embedded);
  });

  afterAll(async () => {
    await embedded?.close();
  });

  it('record leads and write events, the mark being only a comment there', async () => {
    const leads = new LeadRepository(embedded.db, pii);
    const record = lead();
    await leads.recordLead(record, []);
    const audit = new BatchAuditWriter(embedded.db, { flushIntervalMs: 10_000, batchSize: 1000 });
    audit.event({ lead_id: record.id, at: Date.now(), type: 'lead.received', campaign_id: null, detail: { via: 'direct' } });
    await audit.flush();
    expect((await leads.getLead(record.id))?.contact).toEqual({ email: 'a@example.com' });
    expect((await leads.timelineOf(record.id)).map((e) => e.type)).toEqual(['lead.received']);
  });
});
