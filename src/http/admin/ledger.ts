// The money ledger for the operator: every sale, payout, return credit and clawback, by account.
import { Hono } from 'hono';
import { z } from 'zod';
import { toDollars } from '../../catalog/money.ts';
import { parseOrThrow } from '../../errors/zod-errors.ts';
import { MAX_PAGE, pageOf } from '../pagination.ts';
import type { AdminDeps } from './deps.ts';

const ledgerQuery = z
  .object({
    account_type: z.enum(['buyer', 'affiliate']).optional(),
    account_id: z.string().min(1).max(128).optional(),
    sale_id: z.string().min(1).max(128).optional(),
    return_id: z.string().min(1).max(128).optional(),
    limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(50),
    // Ledger ids are a sequence, so the cursor is a number.
    after: z.string().regex(/^\d{1,18}$/, 'must be the `next` of a previous page').optional(),
  })
  .refine((q) => q.account_id === undefined || q.account_type !== undefined, { path: ['account_type'], message: 'is required with account_id' });

export function adminLedgerRoutes({ ledger }: AdminDeps): Hono {
  const routes = new Hono();

  routes.get('/', async (c) => {
    const query = parseOrThrow(ledgerQuery, c.req.query(), 'Invalid query');
    const entries = await ledger.entries({
      accountType: query.account_type ?? null,
      accountId: query.account_id ?? null,
      saleId: query.sale_id ?? null,
      returnId: query.return_id ?? null,
      limit: query.limit,
      after: query.after === undefined ? null : Number(query.after),
    });
    const items = entries.map((e) => ({
      id: String(e.id),
      at: new Date(e.at).toISOString(),
      account_type: e.account_type,
      account_id: e.account_id,
      kind: e.kind,
      amount: toDollars(e.amount_cents),
      sale_id: e.sale_id,
      return_id: e.return_id,
    }));
    return c.json(pageOf(items, query.limit, (e) => e.id));
  });

  return routes;
}
