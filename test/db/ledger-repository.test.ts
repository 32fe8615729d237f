// The ledger is append-only at the database: no code path, and no operator with SQL, can quietly
// rewrite what money moved.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerRepository } from '../../src/db/ledger-repository.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase('ledger');
});

afterAll(async () => {
  await database?.close();
});

describe('the ledger table', () => {
  it('takes new rows and sums an account', async () => {
    await database.db
      .insertInto('ledger')
      .values([
        { account_type: 'buyer', account_id: 'by_sum', amount_cents: -2000, kind: 'sale', sale_id: 'sl_1', return_id: null },
        { account_type: 'buyer', account_id: 'by_sum', amount_cents: 2000, kind: 'return_credit', sale_id: 'sl_1', return_id: 'rt_1' },
        { account_type: 'buyer', account_id: 'by_sum', amount_cents: -1250, kind: 'sale', sale_id: 'sl_2', return_id: null },
      ])
      .execute();
    const ledger = new LedgerRepository(database.db);

    expect(await ledger.net('buyer', 'by_sum')).toBe(-1250);
    expect(await ledger.net('buyer', 'by_nobody')).toBe(0);
    const page = await ledger.entries({ accountType: 'buyer', accountId: 'by_sum', saleId: null, returnId: null, limit: 2, after: null });
    const rest = await ledger.entries({ accountType: 'buyer', accountId: 'by_sum', saleId: null, returnId: null, limit: 2, after: page[1]!.id });
    expect([...page, ...rest].map((e) => e.amount_cents)).toEqual([-2000, 2000, -1250]);
  });

  it('refuses to change or delete a row', async () => {
    await database.db.insertInto('ledger').values({ account_type: 'affiliate', account_id: 'af_fixed', amount_cents: 1600, kind: 'payout', sale_id: 'sl_3', return_id: null }).execute();

    await expect(sql`update ledger set amount_cents = 0 where account_id = 'af_fixed'`.execute(database.db)).rejects.toThrow(/append-only/);
    await expect(sql`delete from ledger where account_id = 'af_fixed'`.execute(database.db)).rejects.toThrow(/append-only/);
    const row = await database.db.selectFrom('ledger').select('amount_cents').where('account_id', '=', 'af_fixed').executeTakeFirstOrThrow();
    expect(row.amount_cents).toBe(1600);
  });

  it('moves the money of one return once per kind, whatever retries do', async () => {
    const credit = { account_type: 'buyer', account_id: 'by_once', amount_cents: 900, kind: 'return_credit', sale_id: 'sl_4', return_id: 'rt_once' };
    await database.db.insertInto('ledger').values(credit).execute();

    await expect(database.db.insertInto('ledger').values(credit).execute()).rejects.toThrow(/ledger_return_once/);
  });
});
