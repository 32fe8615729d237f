// How the event log batches: by interval under a steady trickle, at once for a full batch.
// Statements are counted with a Kysely plugin on a real Postgres.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchAuditWriter } from '../../src/audit/batch-writer.ts';
import type { AuditEvent } from '../../src/audit/events.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { waitFor } from '../support/traffic.ts';

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase('audit_batches');
});

afterAll(async () => {
  await database?.close();
});

const event = (lead_id: string, n: number): AuditEvent => ({ lead_id, at: Date.now(), type: 'lead.received', campaign_id: null, detail: { n } });

const numbersOf = async (lead_id: string) =>
  (await database.db.selectFrom('events').select(['detail']).where('lead_id', '=', lead_id).orderBy('id').execute()).map((r) => r.detail.n);

function countingStatements() {
  const counter = { statements: 0 };
  const db = database.db.withPlugin({
    transformQuery: ({ node }) => {
      counter.statements += 1;
      return node;
    },
    transformResult: async ({ result }) => result,
  });
  return { db, counter };
}

describe('the event log', () => {
  it('writes a steady trickle once per interval, not once per lead, and loses none of it', async () => {
    const { db, counter } = countingStatements();
    const writer = new BatchAuditWriter(db, { flushIntervalMs: 100, batchSize: 100_000 });
    // A row every quarter millisecond for half a second: something new is always queued while
    // a write is at Postgres.
    const started = Date.now();
    let logged = 0;
    for (let next = performance.now(); Date.now() - started < 500; ) {
      if (performance.now() >= next) {
        writer.event(event('ld_trickle', logged++));
        next += 0.25;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    const intervals = (Date.now() - started) / 100;
    expect(counter.statements).toBeLessThanOrEqual(Math.ceil(intervals) + 2);
    await writer.close();
    expect(await numbersOf('ld_trickle')).toEqual(Array.from({ length: logged }, (_, n) => n));
  });

  it('writes a full batch without waiting for the interval', async () => {
    const { db, counter } = countingStatements();
    const writer = new BatchAuditWriter(db, { flushIntervalMs: 60_000, batchSize: 50 });
    for (let n = 0; n < 120; n++) writer.event(event('ld_full', n));
    await waitFor(() => counter.statements >= 2, 5000, 'two full batches');
    await sleep(100);
    // The two full batches went at once; the 20 left over wait for the interval (or a flush).
    expect(counter.statements).toBe(2);
    expect(await numbersOf('ld_full')).toEqual(Array.from({ length: 100 }, (_, n) => n));
    await writer.close();
    expect(await numbersOf('ld_full')).toHaveLength(120);
  });

  it('writes a lead’s events of one batch as one chunk, each lead’s timeline in order however they interleave', async () => {
    const writer = new BatchAuditWriter(database.db, { flushIntervalMs: 60_000, batchSize: 7 });
    // Two leads interleaved; batches of 7 cut lead b's events across two statements.
    for (let n = 0; n < 5; n++) {
      writer.event(event('ld_chunk_a', n));
      writer.event(event('ld_chunk_b', n));
    }
    await writer.flush();
    expect(await numbersOf('ld_chunk_a')).toEqual([0, 1, 2, 3, 4]);
    expect(await numbersOf('ld_chunk_b')).toEqual([0, 1, 2, 3, 4]);
    const chunks = await database.db
      .selectFrom('event_chunks')
      .select(['lead_id', (eb) => eb.fn<number>('json_array_length', ['events']).as('events')])
      .where('lead_id', 'in', ['ld_chunk_a', 'ld_chunk_b'])
      .orderBy('id')
      .execute();
    expect(chunks).toEqual([
      { lead_id: 'ld_chunk_a', events: 5 },
      { lead_id: 'ld_chunk_b', events: 2 },
      { lead_id: 'ld_chunk_b', events: 3 },
    ]);
    await writer.close();
  });

  it('keeps an event whose text holds the batch\'s separators whole, and drops NUL that Postgres cannot read back', async () => {
    const writer = new BatchAuditWriter(database.db, { flushIntervalMs: 60_000, batchSize: 100 });
    // A buyer controls bid ids and error texts; the batch splits its chunks on \x1e and \x1f.
    const hostile = 'a\x1eb\x1fc\u0000d,"]}';
    writer.event({ lead_id: 'ld_separators', at: Date.now(), type: 'campaign.pinged', campaign_id: null, detail: { bid_id: hostile } });
    writer.event(event('ld_separators_next', 1));
    await writer.close();
    const rows = await database.db.selectFrom('events').select(['lead_id', 'detail']).where('lead_id', 'like', 'ld_separators%').orderBy('id').execute();
    expect(rows).toEqual([
      { lead_id: 'ld_separators', detail: { bid_id: 'a\x1eb\x1fcd,"]}' } },
      { lead_id: 'ld_separators_next', detail: { n: 1 } },
    ]);
  });

  it('adds up how often each campaign was asked and offered a price, per quarter hour, across batches', async () => {
    const writer = new BatchAuditWriter(database.db, { flushIntervalMs: 60_000, batchSize: 100 });
    const quarter = Date.parse('2026-11-30T10:00:00.000Z');
    writer.asked({ campaign_id: 'cp_counted', at: quarter, offered: true });
    writer.asked({ campaign_id: 'cp_counted', at: quarter + 899_999, offered: false });
    writer.asked({ campaign_id: 'cp_counted', at: quarter + 900_000, offered: true });
    await writer.flush();
    writer.asked({ campaign_id: 'cp_counted', at: quarter + 1, offered: true });
    await writer.close();
    const rows = await database.db.selectFrom('campaign_activity').select(['bucket', 'pings', 'bids']).where('campaign_id', '=', 'cp_counted').orderBy('bucket').execute();
    expect(rows.map((r) => [new Date(r.bucket).toISOString(), Number(r.pings), Number(r.bids)])).toEqual([
      ['2026-11-30T10:00:00.000Z', 3, 2],
      ['2026-11-30T10:15:00.000Z', 1, 1],
    ]);
  });
});
