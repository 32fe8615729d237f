// Section 7, the operator's side: the queue of returns and the decision on each.
import { Hono, type Context } from 'hono';
import { parseDecision, parseReturnFilter } from '../../returns/requests.ts';
import { pageOf, readPage } from '../pagination.ts';
import { readJson } from '../read-json.ts';
import { operatorReturnView } from '../return-views.ts';
import type { AdminDeps } from './deps.ts';

/** The decision body is optional: `curl -X POST …/approve` with nothing else is a decision too. */
async function readDecision(c: Context): Promise<{ note: string | null }> {
  const length = c.req.header('content-length');
  const hasBody = (length !== undefined && length !== '0') || c.req.header('transfer-encoding') !== undefined;
  return hasBody ? parseDecision((await readJson(c)).value) : { note: null };
}

export function adminReturnRoutes({ returns }: AdminDeps): Hono {
  const routes = new Hono();

  routes.get('/', async (c) => {
    const page = readPage(c.req.query());
    const filter = parseReturnFilter(c.req.query());
    const items = await returns.list({ ...filter, limit: page.limit, after: page.after });
    return c.json(pageOf(items.map(operatorReturnView), page.limit, (r) => r.id));
  });

  routes.get('/:id', async (c) => c.json(operatorReturnView(await returns.get(c.req.param('id')))));

  routes.post('/:id/approve', async (c) => {
    const { note } = await readDecision(c);
    return c.json(operatorReturnView(await returns.approve(c.req.param('id'), note)));
  });

  routes.post('/:id/deny', async (c) => {
    const { note } = await readDecision(c);
    return c.json(operatorReturnView(await returns.deny(c.req.param('id'), note)));
  });

  return routes;
}
