import { Hono } from 'hono';
import { verticalCreate, verticalPatch } from '../../catalog/schemas.ts';
import { Conflict, NotFound } from '../../errors/problems.ts';
import { parseOrThrow } from '../../errors/zod-errors.ts';
import { pageOf, readPage } from '../pagination.ts';
import { readJson } from '../read-json.ts';
import type { AdminDeps } from './deps.ts';

export function verticalRoutes({ repository, catalog }: AdminDeps): Hono {
  const routes = new Hono();

  routes.post('/', async (c) => {
    const vertical = parseOrThrow(verticalCreate, (await readJson(c)).value, 'Invalid vertical');
    if (!(await repository.insertVertical(vertical))) throw new Conflict(`Vertical ${vertical.key} already exists`);
    await catalog.changed();
    return c.json(vertical, 201);
  });

  routes.get('/', async (c) => {
    const page = readPage(c.req.query());
    return c.json(pageOf(await repository.listVerticals(page.limit, page.after), page.limit, (v) => v.key));
  });

  routes.get('/:key', async (c) => {
    const vertical = await repository.getVertical(c.req.param('key'));
    if (!vertical) throw new NotFound(`No vertical ${c.req.param('key')}`);
    return c.json(vertical);
  });

  routes.patch('/:key', async (c) => {
    const patch = parseOrThrow(verticalPatch, (await readJson(c)).value, 'Invalid vertical');
    const vertical = await repository.updateVertical(c.req.param('key'), patch);
    if (!vertical) throw new NotFound(`No vertical ${c.req.param('key')}`);
    await catalog.changed();
    return c.json(vertical);
  });

  return routes;
}
