// The money ledger: append-only rows (the database refuses updates and deletes), read back per
// account for statements.
import type { Kysely, Selectable } from 'kysely';
import type { LedgerAccountType, LedgerEntry, LedgerKind } from '../ledger/entries.ts';
import type { DB, LedgerTable, NewLedgerRow } from './schema.ts';

export interface StoredLedgerEntry extends LedgerEntry {
  id: number;
  /** Epoch milliseconds. */
  at: number;
}

export interface LedgerQuery {
  accountType: LedgerAccountType | null;
  accountId: string | null;
  saleId: string | null;
  returnId: string | null;
  limit: number;
  /** Entries with a greater id than this. */
  after: number | null;
}

export function ledgerRow(entry: LedgerEntry, at: Date | string): NewLedgerRow {
  return { ...entry, at };
}

function fromRow(row: Selectable<LedgerTable>): StoredLedgerEntry {
  return {
    id: Number(row.id),
    at: new Date(row.at).getTime(),
    account_type: row.account_type as LedgerAccountType,
    account_id: row.account_id,
    amount_cents: row.amount_cents,
    kind: row.kind as LedgerKind,
    sale_id: row.sale_id,
    return_id: row.return_id,
  };
}

export class LedgerRepository {
  readonly #db: Kysely<DB>;

  constructor(db: Kysely<DB>) {
    this.#db = db;
  }

  async entries(query: LedgerQuery): Promise<StoredLedgerEntry[]> {
    let select = this.#db.selectFrom('ledger').selectAll().orderBy('id').limit(query.limit);
    if (query.accountType !== null) select = select.where('account_type', '=', query.accountType);
    if (query.accountId !== null) select = select.where('account_id', '=', query.accountId);
    if (query.saleId !== null) select = select.where('sale_id', '=', query.saleId);
    if (query.returnId !== null) select = select.where('return_id', '=', query.returnId);
    if (query.after !== null) select = select.where('id', '>', query.after);
    return (await select.execute()).map(fromRow);
  }

  /** The sum of an account's entries, in cents. */
  async net(accountType: LedgerAccountType, accountId: string): Promise<number> {
    const row = await this.#db
      .selectFrom('ledger')
      .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('amount_cents'), eb.lit(0)).as('net'))
      .where('account_type', '=', accountType)
      .where('account_id', '=', accountId)
      .executeTakeFirstOrThrow();
    return Number(row.net);
  }
}
