import { Hono } from 'hono';
import { hashApiKey } from '../../catalog/api-keys.ts';
import { affiliateCreate, affiliatePatch } from '../../catalog/schemas.ts';
import type { Affiliate } from '../../catalog/types.ts';
import { NotFound } from '../../errors/problems.ts';
import { parseOrThrow } from '../../errors/zod-errors.ts';
import { newId, newSecret } from '../../ids/ids.ts';
import { pageOf, readPage } from '../pagination.ts';
import { readJson } from '../read-json.ts';
import type { AdminDeps } from './deps.ts';

export function affiliateRoutes({ repository, catalog }: AdminDeps): Hono {
  const routes = new Hono();

  routes.post('/', async (c) => {
    const input = parseOrThrow(affiliateCreate, (await readJson(c)).value, 'Invalid affiliate');
    const affiliate: Affiliate = { id: newId('af'), ...input };
    const apiKey = newSecret('lxa');
    await repository.insertAffiliate(affiliate, hashApiKey(apiKey));
    await catalog.changed();
    // The key is shown this once; only its hash is kept.
    return c.json({ ...affiliate, api_key: apiKey }, 201);
  });

  routes.get('/', async (c) => {
    const page = readPage(c.req.query());
    return c.json(pageOf(await repository.listAffiliates(page.limit, page.after), page.limit, (a) => a.id));
  });

  routes.get('/:id', async (c) => {
    const affiliate = await repository.getAffiliate(c.req.param('id'));
    if (!affiliate) throw new NotFound(`No affiliate ${c.req.param('id')}`);
    return c.json(affiliate);
  });

  routes.patch('/:id', async (c) => {
    const patch = parseOrThrow(affiliatePatch, (await readJson(c)).value, 'Invalid affiliate');
    const affiliate = await repository.updateAffiliate(c.req.param('id'), patch);
    if (!affiliate) throw new NotFound(`No affiliate ${c.req.param('id')}`);
    await catalog.changed();
    return c.json(affiliate);
  });

  return routes;
}
