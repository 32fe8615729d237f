// Section 3: the affiliate API.
import { createHash } from 'node:crypto';
import { Hono, type MiddlewareHandler } from 'hono';
import type { Catalog } from '../catalog/catalog.ts';
import type { Exchange } from '../exchange/exchange.ts';
import { InvalidInput } from '../errors/problems.ts';
import { canonicalJson } from '../lead/canonical-json.ts';
import { parseDirectLead, parsePingRequest, parsePostRequest } from '../lead/requests.ts';
import { requireAffiliate, type AuthVariables } from './auth.ts';
import { readJson } from './read-json.ts';

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

export function leadRoutes(
  catalog: Catalog,
  exchange: Exchange,
  rateLimit: MiddlewareHandler<{ Variables: AuthVariables }>,
): Hono<{ Variables: AuthVariables }> {
  const routes = new Hono<{ Variables: AuthVariables }>();
  // Per route, not '*': a wildcard here would also guard every other /v1 path.
  const affiliate = requireAffiliate(catalog);
  const findVertical = (key: string) => catalog.vertical(key);

  routes.post('/leads', affiliate, rateLimit, async (c) => {
    const idempotencyKey = c.req.header('idempotency-key') ?? null;
    if (idempotencyKey !== null && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw new InvalidInput('Invalid Idempotency-Key header', [{ path: 'Idempotency-Key', message: '1 to 255 printable ASCII characters' }]);
    }
    const body = await readJson(c);
    const lead = parseDirectLead(body.value, findVertical);
    // Only a keyed request can be retried into a comparison, so only it pays for the hash.
    const idempotency = idempotencyKey === null ? null : { key: idempotencyKey, requestHash: createHash('sha256').update(canonicalJson(body.value)).digest('hex') };
    return c.json(await exchange.directPost(c.get('affiliate'), lead, { idempotency }));
  });

  routes.post('/ping', affiliate, rateLimit, async (c) => {
    const body = await readJson(c);
    return c.json(await exchange.ping(c.get('affiliate'), parsePingRequest(body.value, findVertical)));
  });

  routes.post('/post', affiliate, rateLimit, async (c) => {
    const body = await readJson(c);
    return c.json(await exchange.post(c.get('affiliate'), parsePostRequest(body.value)));
  });

  return routes;
}
