import { Hono } from 'hono';
import { hashApiKey } from '../../catalog/api-keys.ts';
import { buyerCreate, buyerPatch } from '../../catalog/schemas.ts';
import type { Buyer } from '../../catalog/types.ts';
import { NotFound } from '../../errors/problems.ts';
import { parseOrThrow } from '../../errors/zod-errors.ts';
import { newId, newSecret } from '../../ids/ids.ts';
import { pageOf, readPage } from '../pagination.ts';
import { readJson } from '../read-json.ts';
import type { AdminDeps } from './deps.ts';

export function buyerRoutes({ repository, catalog }: AdminDeps): Hono {
  const routes = new Hono();

  routes.post('/', async (c) => {
    const input = parseOrThrow(buyerCreate, (await readJson(c)).value, 'Invalid buyer');
    const buyer: Buyer = { id: newId('by'), ...input };
    const apiKey = newSecret('lxb');
    await repository.insertBuyer(buyer, hashApiKey(apiKey));
    await catalog.changed();
    return c.json({ ...buyer, api_key: apiKey }, 201);
  });

  routes.get('/', async (c) => {
    const page = readPage(c.req.query());
    return c.json(pageOf(await repository.listBuyers(page.limit, page.after), page.limit, (b) => b.id));
  });

  routes.get('/:id', async (c) => {
    const buyer = await repository.getBuyer(c.req.param('id'));
    if (!buyer) throw new NotFound(`No buyer ${c.req.param('id')}`);
    return c.json(buyer);
  });

  routes.patch('/:id', async (c) => {
    const patch = parseOrThrow(buyerPatch, (await readJson(c)).value, 'Invalid buyer');
    const buyer = await repository.updateBuyer(c.req.param('id'), patch);
    if (!buyer) throw new NotFound(`No buyer ${c.req.param('id')}`);
    await catalog.changed();
    return c.json(buyer);
  });

  return routes;
}
