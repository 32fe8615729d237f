// The event log through a Postgres outage (a server of this test's own, stopped and started):
// what happens while the database is down is kept and written when it returns, within a bound.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchAuditWriter } from '../../src/audit/batch-writer.ts';
import type { AuditEvent } from '../../src/audit/events.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { startOwnPostgres, type OwnService } from '../support/own-services.ts';
import { waitFor } from '../support/traffic.ts';

let postgres: OwnService;
let database: TestDatabase;

beforeAll(async () => {
  postgres = await startOwnPostgres();
  database = await createTestDatabase('audit_outage', postgres.url);
}, 60_000);

afterAll(async () => {
  await database?.close();
  await postgres?.destroy();
});

const event = (lead_id: string, n: number): AuditEvent => ({ lead_id, at: Date.now(), type: 'lead.received', campaign_id: null, detail: { n } });

const rowsOf = (lead_id: string) =>
  database.db.selectFrom('events').select(['detail']).where('lead_id', '=', lead_id).orderBy('id').execute();

describe('the event log during a database outage', () => {
  it('keeps what is logged while Postgres is down and writes all of it, in order, once it is back', async () => {
    const errors: unknown[] = [];
    const writer = new BatchAuditWriter(database.db, { flushIntervalMs: 20, batchSize: 50, onError: (error) => errors.push(error) });
    for (let n = 0; n < 10; n++) writer.event(event('ld_kept', n));
    await writer.flush();

    await postgres.stop();
    for (let n = 10; n < 130; n++) writer.event(event('ld_kept', n));
    for (let n = 0; n < 4; n++) writer.asked({ campaign_id: 'cp_kept', at: Date.now(), offered: n % 2 === 0 });
    await waitFor(() => errors.length >= 2, 5000, 'failed writes');
    expect(writer.queued).toBeGreaterThanOrEqual(121);

    await postgres.start();
    await waitFor(() => writer.queued === 0, 10_000, 'the backlog to be written');
    await writer.close();

    const rows = await rowsOf('ld_kept');
    expect(rows.map((r) => r.detail.n)).toEqual(Array.from({ length: 130 }, (_, n) => n));
    // Counts taken while a write failed are folded back, and added exactly once.
    const activity = await database.db
      .selectFrom('campaign_activity')
      .select((eb) => [eb.fn.sum<string>('pings').as('pings'), eb.fn.sum<string>('bids').as('bids')])
      .where('campaign_id', '=', 'cp_kept')
      .executeTakeFirstOrThrow();
    expect([Number(activity.pings), Number(activity.bids)]).toEqual([4, 2]);
    expect(writer.dropped).toBe(0);
  }, 30_000);

  it('holds at most maxQueued rows while down, counting what it had to drop', async () => {
    const writer = new BatchAuditWriter(database.db, { flushIntervalMs: 20, batchSize: 50, maxQueued: 200 });

    await postgres.stop();
    for (let n = 0; n < 250; n++) writer.event(event('ld_bounded', n));
    expect(writer.queued).toBe(200);
    expect(writer.dropped).toBe(50);

    await postgres.start();
    await waitFor(() => writer.queued === 0, 10_000, 'the backlog to be written');
    await writer.close();
    expect((await rowsOf('ld_bounded')).map((r) => r.detail.n)).toEqual(Array.from({ length: 200 }, (_, n) => n));
  }, 30_000);
});
