// Hostile input over real HTTP against a real exchange: whatever an affiliate sends to the lead,
// ping and post endpoints — arbitrary JSON, a valid lead with its fields broken, junk headers and
// content types — the answer is never a 5xx or a stack trace, every refusal is a problem+json
// body, and a refusal about a field names that field.
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accepting, startBuyerServer, type BuyerServer } from '../support/buyer-server.ts';
import { sampleLead, startExchange, type CallResult, type TestExchange } from '../support/exchange.ts';

const RUNS = 200;

let exchange: TestExchange;
let affiliateKey: string;
let buyer: BuyerServer;

beforeAll(async () => {
  exchange = await startExchange({ label: 'property' });
  await exchange.admin.vertical();
  affiliateKey = (await exchange.admin.affiliate()).api_key;
  // A fixed-price campaign: valid leads are sold and posted without a ping to wait for, and a
  // two-phase ping always gets a hold to post against.
  buyer = await startBuyerServer({ post: accepting() });
  const account = await exchange.admin.buyer();
  await exchange.admin.campaign({ buyer_id: account.id, pricing: { type: 'fixed', price: 10 }, post_url: buyer.postUrl });
}, 60_000);

afterAll(async () => {
  await exchange?.close();
  await buyer?.close();
});

// ---- what every answer must be ------------------------------------------------------------------

const STACK_TRACE = /\n\s+at |\bat [^\s]+ \(?[^\s]+\.(ts|js):\d+:\d+/;

function expectWellFormed(answer: CallResult): void {
  expect(answer.status, JSON.stringify(answer.body)).toBeLessThan(500);
  const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
  expect(text).not.toMatch(STACK_TRACE);
  if (answer.status < 400) return;
  expect(answer.headers.get('content-type')).toContain('application/problem+json');
  expect(answer.body).toMatchObject({ type: expect.any(String), title: expect.any(String), status: answer.status, detail: expect.any(String) });
  expect(Array.isArray(answer.body.errors)).toBe(true);
  for (const error of answer.body.errors) expect(error).toEqual({ path: expect.any(String), message: expect.any(String) });
  // "Invalid input" is always about something in the body: it says what.
  if (answer.status === 400) expect(answer.body.errors.length).toBeGreaterThan(0);
}

/** A refusal of a broken field names that field, something inside it, or what contains it. */
function expectNamesField(answer: CallResult, brokenPaths: string[]): void {
  if (answer.status !== 400) return;
  const named: string[] = answer.body.errors.map((e: { path: string }) => e.path);
  const related = (a: string, b: string) => a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`) || a === '' || b === '';
  expect(
    brokenPaths.some((broken) => named.some((path) => related(path, broken))),
    `broke ${brokenPaths.join(', ')}; errors name ${named.join(', ')}`,
  ).toBe(true);
}

// ---- arbitraries ---------------------------------------------------------------------------------

/**
 * Arrays nested `depth` deep, spliced into the body as raw text by `json()`: too deep for
 * JSON.stringify (here or on the server) to walk, but a valid JSON text all the same.
 */
class DeepNesting {
  readonly depth: number;
  constructor(depth: number) {
    this.depth = depth;
  }
  [fc.toStringMethod](): string {
    return `DeepNesting(${this.depth})`;
  }
}

/** Values nothing expects: wrong types, nulls, huge and strange strings, numbers at the edges, nesting. */
const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(), // NaN and ±Infinity become null in JSON
  fc.constantFrom(0, -0, 1e308, -1e308, 5e-324, Number.MAX_SAFE_INTEGER + 2, 0.1 + 0.2),
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }), // lone surrogates included
  fc.constantFrom('\u0000', 'a\u0000b', '\ud800', 'x\udfffy', '\u202e\u200b', '💥🇫🇷', '<script>', "'; drop table leads; --", '%s%n', '../../etc/passwd'),
  fc.integer({ min: 1_000, max: 70_000 }).map((n) => 'x'.repeat(n)),
  fc.jsonValue({ maxDepth: 4 }),
  fc.integer({ min: 50, max: 20_000 }).map((depth) => new DeepNesting(depth)),
  fc.dictionary(fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', '', ' ', 'a.b', 'é'), fc.jsonValue({ maxDepth: 2 })),
);

const fieldName = fc.oneof(fc.constantFrom('__proto__', 'constructor', 'hasOwnProperty', 'extra', 'email', 'Ω'), fc.string({ maxLength: 12 }));

type Mutation = { kind: 'set'; path: string[]; value: unknown } | { kind: 'delete'; path: string[] } | { kind: 'add'; at: string[]; key: string; value: unknown };

function mutations(paths: string[][], containers: string[][]): fc.Arbitrary<Mutation[]> {
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), path: fc.constantFrom(...paths), value: junk }),
    fc.record({ kind: fc.constant('delete' as const), path: fc.constantFrom(...paths) }),
    fc.record({ kind: fc.constant('add' as const), at: fc.constantFrom(...containers), key: fieldName, value: junk }),
  );
  return fc.array(mutation, { minLength: 1, maxLength: 3 });
}

/** Applies mutations to a deep copy; returns the body and the paths it broke. */
function mutate(valid: Record<string, unknown>, list: Mutation[]): { body: unknown; broken: string[] } {
  const body = structuredClone(valid);
  const broken: string[] = [];
  for (const m of list) {
    const path = m.kind === 'add' ? m.at : m.path;
    let parent: unknown = body;
    for (const key of path.slice(0, m.kind === 'add' ? path.length : -1)) {
      parent = parent !== null && typeof parent === 'object' ? (parent as Record<string, unknown>)[key] : undefined;
    }
    if (parent === null || typeof parent !== 'object' || Array.isArray(parent)) continue;
    const target = parent as Record<string, unknown>;
    if (m.kind === 'set') target[m.path.at(-1)!] = m.value;
    else if (m.kind === 'delete') delete target[m.path.at(-1)!];
    // defineProperty: an own "__proto__" key, as JSON.parse would produce on the server.
    else Object.defineProperty(target, m.key, { value: m.value, enumerable: true, configurable: true, writable: true });
    broken.push((m.kind === 'add' ? [...m.at, m.key] : m.path).join('.'));
  }
  return { body, broken };
}

const headerText = fc.string({ unit: fc.constantFrom(...' !"#$%&\'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~\u00a0\u00e9\u00ff'.split('')), maxLength: 60 })
  .map((s) => s.trim());

const contentType = fc.oneof(
  { weight: 3, arbitrary: fc.constant('application/json') },
  fc.constantFrom('application/json; charset=utf-8', 'application/problem+json', 'APPLICATION/JSON', 'application/jsonx', 'text/plain',
    'application/x-www-form-urlencoded', 'multipart/form-data; boundary=xyz', 'application/xml', ''),
  headerText,
);

const extraHeaders = fc.record(
  {
    'content-type': contentType,
    'idempotency-key': headerText,
    accept: headerText,
    'x-forwarded-for': headerText,
    'content-encoding': fc.constantFrom('gzip', 'br', 'identity', 'x-junk'),
  },
  { requiredKeys: ['content-type'] },
);

const authorization = fc.oneof(
  { weight: 4, arbitrary: fc.constant('valid') },
  fc.constantFrom('', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'bearer lxa_nope', 'Bearer  lxa_x lxa_y'),
  headerText,
);

const rawBody = fc.oneof(
  fc.json(),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v)),
  fc.constantFrom('', ' ', 'null', '[]', '{}', '{"vertical":', '\u0000', '{"a":1}{"b":2}', '1e999999', '"\\ud800"', '{"__proto__":{"polluted":1}}'),
);

// ---- requests -------------------------------------------------------------------------------------

async function send(path: string, body: string, headers: Record<string, string>, auth: string): Promise<CallResult> {
  const all: Record<string, string> = { ...headers };
  if (auth === 'valid') all.authorization = `Bearer ${affiliateKey}`;
  else if (auth !== '') all.authorization = auth;
  return exchange.call('POST', path, { raw: body, headers: all });
}

const DEEP = /"\\u0000deep:(\d+)\\u0000"/g;

function json(value: unknown): string {
  const text = JSON.stringify(value, (_key, v: unknown) => (v instanceof DeepNesting ? `\u0000deep:${v.depth}\u0000` : v));
  return text.replace(DEEP, (_match, depth: string) => '['.repeat(Number(depth)) + ']'.repeat(Number(depth)));
}
const JSON_HEADERS = { 'content-type': 'application/json' };

const LEAD_PATHS = [
  ['vertical'], ['data'], ['data', 'state'], ['data', 'zip'], ['data', 'age'], ['data', 'credit'],
  ['contact'], ['contact', 'email'], ['contact', 'phone'], ['contact', 'first_name'],
  ['consent'], ['consent', 'tcpa'], ['consent', 'ip'], ['consent', 'captured_at'], ['consent', 'trusted_form_cert_url'], ['consent', 'text'],
  ['source'], ['source', 'sub_id'], ['min_payout'],
];
const LEAD_CONTAINERS = [[], ['data'], ['contact'], ['consent'], ['source']];

describe('POST /v1/leads', () => {
  it('a valid lead with fields broken, added or removed: never a 5xx, and the refusal names the field', async () => {
    await fc.assert(
      fc.asyncProperty(mutations(LEAD_PATHS, LEAD_CONTAINERS), async (list) => {
        const { body, broken } = mutate(sampleLead(), list);
        const answer = await send('/v1/leads', json(body), JSON_HEADERS, 'valid');
        expectWellFormed(answer);
        expectNamesField(answer, broken);
        if (answer.status === 200) expect(['sold', 'unsold', 'duplicate', 'rejected']).toContain(answer.body.status);
      }),
      { numRuns: RUNS },
    );
  });

  it('any body with any headers and credentials: never a 5xx, always a problem body when refused', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(rawBody, fc.constant(json(sampleLead()))), extraHeaders, authorization, async (body, headers, auth) => {
        expectWellFormed(await send('/v1/leads', body, headers, auth));
      }),
      { numRuns: RUNS },
    );
  });
});

const PING_PATHS = [['vertical'], ['data'], ['data', 'state'], ['data', 'age'], ['contact_hashes'], ['contact_hashes', 'email_sha256'], ['min_payout']];
const PING_CONTAINERS = [[], ['data'], ['contact_hashes']];

function validPing(): Record<string, unknown> {
  const lead = sampleLead();
  return { vertical: lead.vertical, data: lead.data, contact_hashes: { email_sha256: randomBytes(32).toString('hex') }, min_payout: 1 };
}

describe('POST /v1/ping', () => {
  it('a valid ping broken any way, or any body and headers: never a 5xx, and the refusal names the field', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          mutations(PING_PATHS, PING_CONTAINERS).map((list) => ({ ...mutate(validPing(), list), headers: JSON_HEADERS, auth: 'valid' })),
          fc.record({ body: rawBody, broken: fc.constant([] as string[]), headers: extraHeaders, auth: authorization }),
        ),
        async ({ body, broken, headers, auth }) => {
          const answer = await send('/v1/ping', typeof body === 'string' ? body : json(body), headers, auth);
          expectWellFormed(answer);
          if (broken.length > 0) expectNamesField(answer, broken);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

const POST_PATHS = [['ping_id'], ['contact'], ['contact', 'email'], ['contact', 'phone'], ['consent'], ['consent', 'tcpa'], ['data'], ['data', 'age'], ['source']];
const POST_CONTAINERS = [[], ['contact'], ['consent'], ['data'], ['source']];

describe('POST /v1/post', () => {
  it('a post against a live hold, broken any way: never a 5xx, and the refusal names the field', async () => {
    await fc.assert(
      fc.asyncProperty(mutations(POST_PATHS, POST_CONTAINERS), fc.boolean(), async (list, withData) => {
        const lead = sampleLead();
        const ping = await send('/v1/ping', json({ vertical: lead.vertical, data: lead.data }), JSON_HEADERS, 'valid');
        expect(ping.body.status).toBe('bid');
        const valid = { ping_id: ping.body.ping_id, contact: lead.contact, consent: lead.consent, source: lead.source, ...(withData ? { data: lead.data } : {}) };
        const { body, broken } = mutate(valid, list);
        const answer = await send('/v1/post', json(body), JSON_HEADERS, 'valid');
        expectWellFormed(answer);
        expectNamesField(answer, broken);
      }),
      { numRuns: RUNS },
    );
  });

  it('any body with any headers and credentials: never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(rawBody, extraHeaders, authorization, async (body, headers, auth) => {
        expectWellFormed(await send('/v1/post', body, headers, auth));
      }),
      { numRuns: RUNS },
    );
  });
});
