// Group commit (src/db/group-commit.ts): leads that arrive while a write is at Postgres share the
// next statement, yet every caller learns whether its own lead is durable.
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GroupCommit } from '../../src/db/group-commit.ts';
import { LeadRepository } from '../../src/db/lead-repository.ts';
import { isUniqueViolation } from '../../src/db/pg-errors.ts';
import type { NewLead, NewSale } from '../../src/db/schema.ts';
import { PiiCipher } from '../../src/pii/cipher.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { leadRecord } from '../support/lead-records.ts';

let database: TestDatabase;
let leads: LeadRepository;
const key = { id: 'k1', key: randomBytes(32) };

beforeAll(async () => {
  database = await createTestDatabase('group_commit');
  const db = database.db;
  await db.insertInto('affiliates').values({ id: 'af_g', name: 'A', payout: '{"type":"revshare","percent":50}', status: 'active', api_key_hash: 'h-g' }).execute();
  await db.insertInto('verticals').values({ key: 'solar', fields: '[]', max_shared: 3, exclusive_days: 30, duplicate_days: 30 }).execute();
  await db.insertInto('buyers').values({ id: 'by_g', name: 'B', balance_cents: null, credit_limit_cents: 0, status: 'active', api_key_hash: 'h-by-g' } as never).execute();
  await db
    .insertInto('campaigns')
    .values({ id: 'cp_g', buyer_id: 'by_g', vertical: 'solar', name: 'C', mode: 'exclusive', pricing: '{"type":"bid"}', post_url: 'http://127.0.0.1:9/post', signing_secret: 's' } as never)
    .execute();
  await sql`create table group_probe (id serial primary key, n int not null)`.execute(db);
  leads = new LeadRepository(db, new PiiCipher([key], key.id));
});

afterAll(async () => {
  await database?.close();
});

let n = 0;
function lead(id = `ld_g_${++n}`): NewLead {
  return leadRecord(id, 'af_g', {
    vertical: 'solar',
    data: JSON.stringify({ state: 'CA', roof: 'tile "clay"' }),
    status: 'sold',
    mode: 'exclusive',
    price_cents: 2100,
    payout_cents: 1050,
    response: JSON.stringify({ lead_id: id, status: 'sold' }),
    created_at: new Date(),
  });
}

function sale(leadId: string): NewSale {
  return {
    id: `sl_${leadId}`,
    lead_id: leadId,
    campaign_id: 'cp_g',
    buyer_id: 'by_g',
    affiliate_id: 'af_g',
    vertical: 'solar',
    mode: 'exclusive',
    price_cents: 2100,
    payout_cents: 1050,
    bid_id: 'b-1',
    buyer_lead_id: null,
    redirect_url: null,
    created_at: new Date(),
  };
}

describe('group commit', () => {
  it('writes a record at once, alone, when no write is under way', async () => {
    const groups: number[] = [];
    const group = new GroupCommit<number>(async (items) => {
      groups.push(items.length);
      await sql`insert into group_probe (n) select unnest(${items}::int[])`.execute(database.db);
    }, { maxGroup: 100 });
    await group.add(1);
    expect(groups).toEqual([1]);
  });

  it('sends what arrives during a write as the next single statement, at most maxGroup at a time', async () => {
    const groups: number[] = [];
    const group = new GroupCommit<number>(async (items) => {
      groups.push(items.length);
      // A slow statement: everything added meanwhile must wait for it and then go together.
      await sql`select pg_sleep(0.05)`.execute(database.db);
      await sql`insert into group_probe (n) select unnest(${items}::int[])`.execute(database.db);
    }, { maxGroup: 25 });
    const first = group.add(1000);
    await new Promise((resolve) => setTimeout(resolve, 10));
    const rest = Array.from({ length: 40 }, (_, i) => group.add(2000 + i));
    await Promise.all([first, ...rest]);
    expect(groups).toEqual([1, 25, 15]);
    const stored = await sql<{ count: string }>`select count(*) from group_probe where n >= 1000`.execute(database.db);
    expect(Number(stored.rows[0]!.count)).toBe(41);
  });

  it('records 60 concurrent leads through shared statements, each whole with its sale and ledger entries', async () => {
    const batch = Array.from({ length: 60 }, () => lead());
    await Promise.all(batch.map((l) => leads.recordLead(l, [sale(l.id)])));
    const ids = batch.map((l) => l.id);
    const rows = await database.db.selectFrom('leads').select(['id', 'data', 'status', 'price_cents']).where('id', 'in', ids).execute();
    expect(rows).toHaveLength(60);
    expect(rows[0]!.data).toEqual({ state: 'CA', roof: 'tile "clay"' });
    const sales = await database.db.selectFrom('sales').select('id').where('lead_id', 'in', ids).execute();
    expect(sales).toHaveLength(60);
    const ledger = await database.db.selectFrom('ledger').select(['amount_cents']).where('sale_id', 'in', ids.map((id) => `sl_${id}`)).execute();
    expect(ledger.map((e) => Number(e.amount_cents)).sort((a, b) => a - b)).toEqual([...Array(60).fill(-2100), ...Array(60).fill(1050)]);
    const back = await leads.getLead(ids[0]!);
    expect(back?.contact).toEqual({ email: `${ids[0]}@example.com` });
  });

  it('refuses only the record that broke the statement: the others in its group are recorded', async () => {
    const taken = lead();
    await leads.recordLead(taken, []);
    const batch = Array.from({ length: 20 }, () => lead());
    const clash = lead(taken.id);
    const results = await Promise.allSettled([...batch.slice(0, 10), clash, ...batch.slice(10)].map((l) => leads.recordLead(l, [])));
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused).toHaveLength(1);
    expect(isUniqueViolation((refused[0] as PromiseRejectedResult).reason)).toBe(true);
    const rows = await database.db.selectFrom('leads').select('id').where('id', 'in', batch.map((l) => l.id)).execute();
    expect(rows).toHaveLength(20);
  });
});
