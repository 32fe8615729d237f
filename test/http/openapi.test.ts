// Section 8: GET /openapi.json. The route list comes from the running Hono app, so a route added
// without being documented fails here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExchange, type TestExchange } from '../support/exchange.ts';

let exchange: TestExchange;
let doc: any;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

beforeAll(async () => {
  exchange = await startExchange({ label: 'openapi' });
  doc = (await exchange.call('GET', '/openapi.json')).body;
});

afterAll(async () => {
  await exchange?.close();
});

/** Every operation as "METHOD /path/{param}". */
function operationsOf(paths: Record<string, any>): string[] {
  return Object.entries(paths).flatMap(([path, item]) =>
    Object.keys(item).filter((key) => METHODS.includes(key)).map((method) => `${method.toUpperCase()} ${path}`),
  );
}

/** What the app routes, minus middleware (`use` registers method ALL) and wildcards. */
function routedOperations(): string[] {
  const routes = exchange.app.hono.routes
    .filter((r) => r.method !== 'ALL' && !r.path.includes('*'))
    .map((r) => `${r.method} ${r.path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}')}`);
  return [...new Set(routes)].sort();
}

function resolve(pointer: string): unknown {
  let node: any = doc;
  for (const raw of pointer.replace(/^#\//, '').split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !(key in node)) return undefined;
    node = node[key];
  }
  return node;
}

function refsIn(node: unknown, into: string[] = []): string[] {
  if (Array.isArray(node)) for (const item of node) refsIn(item, into);
  else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') into.push(value);
      else refsIn(value, into);
    }
  }
  return into;
}

describe('GET /openapi.json', () => {
  it('answers 200 application/json without credentials, and the same document every time', async () => {
    const answer = await exchange.call('GET', '/openapi.json');
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^application\/json\b/);
    expect(answer.body).toEqual(doc);
  });

  it('is an OpenAPI 3.1 document', () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(typeof doc.info.title).toBe('string');
    expect(typeof doc.info.version).toBe('string');
    expect(Object.keys(doc.paths).length).toBeGreaterThan(0);
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['adminToken', 'affiliateKey', 'buyerKey']);
    for (const scheme of Object.values<any>(doc.components.securitySchemes)) expect(scheme).toMatchObject({ type: 'http', scheme: 'bearer' });

    for (const [path, item] of Object.entries<any>({ ...doc.paths, ...doc.webhooks })) {
      const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const method of Object.keys(item).filter((key) => METHODS.includes(key))) {
        const operation = item[method];
        const where = `${method.toUpperCase()} ${path}`;
        expect(Object.keys(operation.responses ?? {}), where).not.toHaveLength(0);
        // Every path template variable is declared as a required path parameter.
        const params = [...(item.parameters ?? []), ...(operation.parameters ?? [])];
        for (const name of templated) {
          expect(params.find((p: any) => p.in === 'path' && p.name === name), `${where}: {${name}}`).toMatchObject({ required: true });
        }
        for (const security of operation.security ?? []) {
          for (const scheme of Object.keys(security)) expect(doc.components.securitySchemes, where).toHaveProperty(scheme);
        }
      }
    }
  });

  it('documents every route the app serves, and no route it does not', () => {
    const routed = routedOperations();
    expect(routed).toContain('POST /v1/leads');
    expect(routed).toContain('GET /v1/admin/campaigns/{id}/status');
    expect(operationsOf(doc.paths).sort()).toEqual(routed);
  });

  it('resolves every $ref', () => {
    const refs = refsIn(doc);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of new Set(refs)) {
      expect(ref, ref).toMatch(/^#\//);
      expect(resolve(ref), ref).toBeDefined();
    }
  });

  it('describes problem answers, the direct post Idempotency-Key and the signed buyer webhooks', () => {
    const post = doc.paths['/v1/leads'].post;
    expect(post.security).toEqual([{ affiliateKey: [] }]);
    expect(post.parameters.map((p: any) => `${p.in}:${p.name}`)).toContain('header:Idempotency-Key');
    for (const status of ['400', '401', '413', '415', '422', '429', '503']) {
      expect(resolve(post.responses[status].$ref), status).toMatchObject({ content: { 'application/problem+json': {} } });
    }
    expect(doc.paths['/v1/post'].post.responses).toHaveProperty('410');
    expect(doc.paths['/v1/admin/campaigns/{id}'].delete.responses).toHaveProperty('204');

    for (const hook of ['ping', 'post']) {
      const names = doc.webhooks[hook].post.parameters.map((p: any) => p.name);
      expect(names).toEqual(expect.arrayContaining(['x-leadex-timestamp', 'x-leadex-signature']));
    }
    expect(doc.webhooks.ping.post.responses).toHaveProperty('204');
  });

  it('derives admin bodies from the zod schemas, the recursive filter included', () => {
    const campaign = doc.components.schemas.CampaignCreate;
    expect(campaign.required).toEqual(expect.arrayContaining(['buyer_id', 'name', 'vertical', 'mode', 'pricing', 'post_url']));
    expect(campaign.additionalProperties).toBe(false);
    expect(refsIn(campaign.properties.filters)).toEqual(['#/components/schemas/CampaignFilter']);
    expect(refsIn(doc.components.schemas.CampaignFilter)).toContain('#/components/schemas/CampaignFilter');
    expect(doc.components.schemas.AffiliateCreate.properties.payout.oneOf).toHaveLength(2);
  });
});
