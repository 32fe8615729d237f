// Bearer credentials for the three actors of section 1.
import { timingSafeEqual, createHash } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { Catalog } from '../catalog/catalog.ts';
import type { Affiliate, Buyer } from '../catalog/types.ts';
import { hashApiKey } from '../catalog/api-keys.ts';
import { Forbidden, Unauthorized } from '../errors/problems.ts';

export type AuthVariables = { affiliate: Affiliate; buyer: Buyer };

function bearer(header: string | undefined): string | null {
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match ? match[1]! : null;
}

export function requireAdmin(adminToken: string): MiddlewareHandler {
  // Compare digests so the comparison is constant-time whatever the lengths.
  const expected = createHash('sha256').update(adminToken).digest();
  return async (c, next) => {
    const token = bearer(c.req.header('authorization'));
    if (!token || !timingSafeEqual(createHash('sha256').update(token).digest(), expected)) throw new Unauthorized();
    await next();
  };
}

export function requireAffiliate(catalog: Catalog): MiddlewareHandler<{ Variables: AuthVariables }> {
  return async (c, next) => {
    const token = bearer(c.req.header('authorization'));
    const affiliate = token ? catalog.affiliateByKeyHash(hashApiKey(token)) : undefined;
    if (!affiliate) throw new Unauthorized();
    if (affiliate.status !== 'active') throw new Forbidden(`Affiliate ${affiliate.id} is ${affiliate.status}`);
    c.set('affiliate', affiliate);
    await next();
  };
}

export function requireBuyer(catalog: Catalog): MiddlewareHandler<{ Variables: AuthVariables }> {
  return async (c, next) => {
    const token = bearer(c.req.header('authorization'));
    const buyer = token ? catalog.buyerByKeyHash(hashApiKey(token)) : undefined;
    if (!buyer) throw new Unauthorized();
    c.set('buyer', buyer);
    await next();
  };
}
