// Section 7: the buyer API. Buyers return leads they bought and follow their returns.
import { Hono } from 'hono';
import type { Catalog } from '../catalog/catalog.ts';
import { parseReturnFilter, parseReturnRequest } from '../returns/requests.ts';
import type { Returns } from '../returns/returns.ts';
import { requireBuyer, type AuthVariables } from './auth.ts';
import { pageOf, readPage } from './pagination.ts';
import { readJson } from './read-json.ts';
import { buyerReturnView } from './return-views.ts';

export function returnRoutes(catalog: Catalog, returns: Returns): Hono<{ Variables: AuthVariables }> {
  const routes = new Hono<{ Variables: AuthVariables }>();
  routes.use('*', requireBuyer(catalog));

  routes.post('/', async (c) => {
    const request = parseReturnRequest((await readJson(c)).value);
    return c.json(buyerReturnView(await returns.request(c.get('buyer'), request)), 201);
  });

  routes.get('/', async (c) => {
    const page = readPage(c.req.query());
    const { status } = parseReturnFilter(c.req.query());
    const items = await returns.list({ status, buyerId: c.get('buyer').id, limit: page.limit, after: page.after });
    return c.json(pageOf(items.map(buyerReturnView), page.limit, (r) => r.id));
  });

  routes.get('/:id', async (c) => c.json(buyerReturnView(await returns.getForBuyer(c.get('buyer'), c.req.param('id')))));

  return routes;
}
