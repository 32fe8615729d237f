// Section 8: `GET /openapi.json`, the wire contract (PROTOCOL.md) as OpenAPI 3.1. Admin bodies are
// generated from the zod schemas that validate them, so the document cannot drift from what the
// API accepts; the rest is hand-written, because those bodies are parsed by hand (src/lead) or
// are the exchange's own answers. test/http/openapi.test.ts fails when a route goes undocumented.
import { Hono } from 'hono';
import { z } from 'zod';
import {
  affiliateCreate, affiliatePatch, buyerCreate, buyerPatch, campaignCreate, campaignPatch, filter, verticalCreate, verticalPatch,
} from '../catalog/schemas.ts';
import { RETURN_REASONS, RETURN_STATUSES } from '../returns/types.ts';
import { MAX_PAGE } from './pagination.ts';

type Json = Record<string, unknown>;

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const nullable = (schema: Json): Json => ({ anyOf: [schema, { type: 'null' }] });
// No multipleOf 0.01: binary floats make validators refuse amounts like 0.29.
const money: Json = { type: 'number', minimum: 0, description: 'USD, at most 2 decimals' };
const dateTime: Json = { type: 'string', format: 'date-time' };
const text = (description: string): Json => ({ type: 'string', description });

function object(properties: Record<string, Json>, required: string[] = Object.keys(properties), extra: Json = {}): Json {
  return { type: 'object', properties, required, ...extra };
}

// `filter` is a z.custom checked by hand (recursive, rules per op): nothing to derive from. Its
// refinement is a clone whose `parent` is the bare custom, and the converter visits both.
const FILTER_SCHEMAS = new Set<unknown>();
for (let s: { _zod: { parent?: unknown } } | undefined = filter; s; s = s._zod.parent as typeof s) FILTER_SCHEMAS.add(s);

/** JSON Schema of a zod schema; the campaign filter becomes a reference to its hand-written form. */
function fromZod(schema: z.ZodType, io: 'input' | 'output' = 'input'): Json {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, {
    io,
    unrepresentable: ({ zodSchema }) => (FILTER_SCHEMAS.has(zodSchema) ? ref('CampaignFilter') : 'throw'),
  }) as Json;
  return json;
}

/** A stored entity as the API answers it: the create schema's output plus its id. */
function entity(schema: z.ZodType, id: Json | null, tweak: (properties: Record<string, Json>) => void = () => {}): Json {
  const json = fromZod(schema, 'output');
  const properties = { ...(id ? { id } : {}), ...(json.properties as Record<string, Json>) };
  tweak(properties);
  const required = (json.required as string[] | undefined) ?? [];
  // Answers may gain fields (PROTOCOL: add freely); only request bodies are strict.
  const { additionalProperties: _strict, ...rest } = json;
  return { ...rest, properties, required: id ? ['id', ...required] : required };
}

const withSecret = (name: string, key: string, description: string): Json => ({
  allOf: [ref(name), object({ [key]: text(description) })],
});

const page = (item: string): Json =>
  object({ items: { type: 'array', items: ref(item) }, next: { ...nullable({ type: 'string' }), description: 'cursor for `after`; null on the last page' } });

function schemas(): Record<string, Json> {
  const scalar: Json = { type: ['string', 'number', 'boolean'] };
  const sha256: Json = { type: 'string', pattern: '^[0-9a-f]{64}$' };
  const leadStatus = ['sold', 'unsold', 'duplicate', 'rejected'];
  const mode: Json = { type: 'string', enum: ['exclusive', 'shared'] };
  const contactHashes = object({ email_sha256: sha256, phone_sha256: sha256 }, []);
  const returnCommon: Record<string, Json> = {
    id: { type: 'string' },
    lead_id: { type: 'string' },
    sale_id: { type: 'string' },
    campaign_id: { type: 'string' },
    status: { type: 'string', enum: [...RETURN_STATUSES] },
    reason: { type: 'string', enum: [...RETURN_REASONS] },
    detail: nullable({ type: 'string' }),
    price: { ...money, description: 'what an approval credits (or credited) the buyer' },
    decided_by: nullable({ type: 'string', enum: ['exchange', 'operator'] }),
    note: nullable({ type: 'string' }),
    created_at: dateTime,
    decided_at: nullable(dateTime),
  };
  const earlierPurchase = object({
    rule: { const: 'earlier_purchase' }, sale_id: { type: 'string' }, lead_id: { type: 'string' }, at: dateTime, window_days: { type: 'integer' },
  });
  const earlierLead = (withLead: boolean): Json =>
    object({ rule: { const: 'earlier_lead_from_affiliate' }, ...(withLead ? { lead_id: { type: 'string' } } : {}), at: dateTime, window_days: { type: 'integer' } });
  const capUsage = object({
    period: { type: 'string', enum: ['hour', 'day', 'week', 'month'] },
    measure: { type: 'string', enum: ['leads', 'spend'] },
    used: { type: 'number' }, limit: { type: 'number' }, remaining: { type: 'number' },
  });
  const endpointStats = object({
    calls: { type: 'integer' }, failures: { type: 'integer' }, successes: { type: 'integer' }, rejected: { type: 'integer' }, error_percentage: { type: 'number' },
  });
  const breakerState: Json = { type: 'string', enum: ['closed', 'open', 'half_open'] };

  return {
    Problem: object(
      {
        type: { type: 'string', format: 'uri' },
        title: { type: 'string' },
        status: { type: 'integer' },
        detail: { type: 'string' },
        errors: { type: 'array', items: object({ path: text('dotted path of the input, e.g. contact.email'), message: { type: 'string' } }) },
        instance: text('the request path'),
      },
      ['type', 'title', 'status', 'detail', 'errors'],
      { description: 'RFC 9457 problem details, served as application/problem+json' },
    ),

    // ---- affiliate API (section 3)
    LeadData: {
      type: 'object',
      description: "The vertical's fields (see its `fields`): what buyers price on. Values that look like an e-mail address or phone number are refused.",
      additionalProperties: scalar,
    },
    Contact: {
      type: 'object',
      description: 'Personal data: only a post to a winner carries it. Needs `email`, `phone` or both; `phone` is E.164 (US national numbers are normalised).',
      properties: { email: nullable({ type: 'string', format: 'email' }), phone: nullable({ type: 'string' }) },
      additionalProperties: nullable({ type: 'string', maxLength: 512 }),
    },
    Consent: {
      type: 'object',
      required: ['tcpa'],
      properties: {
        tcpa: { type: 'boolean' },
        text: nullable({ type: 'string' }),
        captured_at: nullable(dateTime),
        ip: nullable({ type: 'string', description: 'IPv4 or IPv6' }),
        trusted_form_cert_url: nullable({ type: 'string', format: 'uri' }),
      },
      additionalProperties: true,
    },
    Source: { ...nullable({ type: 'object', additionalProperties: true }), description: 'where the lead came from, e.g. sub_id and url' },
    ContactHashes: {
      ...contactHashes,
      description: 'email_sha256: SHA-256 of the trimmed, lower-cased address; phone_sha256: SHA-256 of the E.164 number',
    },
    DirectLead: object(
      {
        vertical: { type: 'string' },
        data: ref('LeadData'),
        contact: ref('Contact'),
        consent: ref('Consent'),
        source: ref('Source'),
        min_payout: { ...nullable(money), description: 'do not sell below this payout' },
      },
      ['vertical', 'data', 'contact', 'consent'],
    ),
    PingRequest: object(
      {
        vertical: { type: 'string' },
        data: ref('LeadData'),
        contact_hashes: nullable(ref('ContactHashes')),
        min_payout: nullable(money),
      },
      ['vertical', 'data'],
      { description: '`contact` and `consent` are refused here: they go in the post.' },
    ),
    PostRequest: object(
      {
        ping_id: { type: 'string', minLength: 1, maxLength: 200 },
        contact: ref('Contact'),
        consent: ref('Consent'),
        data: { ...nullable(ref('LeadData')), description: 'if given, must equal the pinged data (else 409)' },
        source: ref('Source'),
      },
      ['ping_id', 'contact', 'consent'],
    ),
    LeadAnswer: object(
      {
        lead_id: { type: 'string' },
        status: { type: 'string', enum: leadStatus },
        mode: nullable(mode),
        payout: money,
        buyers: { type: 'integer', minimum: 0 },
        redirect_url: nullable({ type: 'string', format: 'uri' }),
        reasons: { type: 'array', items: { type: 'string' }, description: 'why a lead was rejected or is a duplicate' },
      },
      ['lead_id', 'status', 'mode', 'payout', 'buyers', 'redirect_url'],
    ),
    PingAnswer: {
      oneOf: [
        object({ ping_id: { type: 'string' }, status: { const: 'bid' }, payout: money, mode, expires_at: dateTime }),
        object({ ping_id: { type: 'string' }, status: { const: 'no_bid' }, reason: { const: 'duplicate' } }, ['ping_id', 'status']),
      ],
    },

    // ---- buyer endpoints (section 4), under `webhooks`
    BuyerPing: object({
      ping_id: { type: 'string' },
      campaign_id: { type: 'string' },
      vertical: { type: 'string' },
      mode,
      data: ref('LeadData'),
      contact_hashes: ref('ContactHashes'),
      tmax_ms: { type: 'integer', description: 'answer within this many milliseconds' },
    }),
    BuyerBid: object(
      {
        bid: { ...nullable({ type: 'number', minimum: 0 }), description: 'dollars; 0 or null is no bid; kept in cents, rounded down' },
        bid_id: { ...nullable({ type: ['string', 'number'] }), description: 'echoed in the post' },
      },
      ['bid'],
    ),
    BuyerPost: object({
      lead_id: { type: 'string' },
      ping_id: { type: 'string' },
      bid_id: nullable({ type: 'string' }),
      campaign_id: { type: 'string' },
      price: money,
      vertical: { type: 'string' },
      mode,
      data: ref('LeadData'),
      contact: ref('Contact'),
      consent: ref('Consent'),
      source: { type: 'object', additionalProperties: true },
    }),
    BuyerPostAnswer: {
      oneOf: [
        object(
          { accepted: { const: true }, buyer_lead_id: nullable({ type: ['string', 'number'] }), redirect_url: { ...nullable({ type: 'string', format: 'uri' }), description: 'http(s) only; handed to the affiliate' } },
          ['accepted'],
        ),
        object({ accepted: { const: false }, reason: text('e.g. duplicate; at most 200 characters are kept') }, ['accepted']),
      ],
    },

    // ---- returns (section 7)
    ReturnRequest: object(
      {
        lead_id: { type: 'string', minLength: 1, maxLength: 128 },
        reason: { type: 'string', enum: [...RETURN_REASONS] },
        detail: nullable({ type: 'string', maxLength: 2000 }),
      },
      ['lead_id', 'reason'],
      { additionalProperties: false },
    ),
    ReturnDecision: object({ note: { ...nullable({ type: 'string', maxLength: 2000 }), description: 'shown to the buyer' } }, [], { additionalProperties: false }),
    BuyerReturn: object({ ...returnCommon, proof: nullable({ oneOf: [earlierPurchase, earlierLead(false)] }) }),
    OperatorReturn: object({
      ...returnCommon,
      buyer_id: { type: 'string' },
      affiliate_id: { type: 'string' },
      payout: { ...money, description: 'what an approval claws back from the affiliate' },
      proof: nullable({ oneOf: [earlierPurchase, earlierLead(true)] }),
    }),
    BuyerReturnPage: page('BuyerReturn'),
    OperatorReturnPage: page('OperatorReturn'),

    // ---- admin API (section 6): bodies from src/catalog/schemas.ts
    VerticalCreate: fromZod(verticalCreate),
    VerticalPatch: fromZod(verticalPatch),
    AffiliateCreate: fromZod(affiliateCreate),
    AffiliatePatch: fromZod(affiliatePatch),
    BuyerCreate: fromZod(buyerCreate),
    BuyerPatch: fromZod(buyerPatch),
    CampaignCreate: {
      ...fromZod(campaignCreate),
      description: 'Bid pricing needs a ping_url; caps need leads, spend or both; filters may only name fields of the vertical.',
    },
    CampaignPatch: { ...fromZod(campaignPatch), description: 'Absent fields are left unchanged; nested objects are replaced whole. buyer_id cannot change.' },
    CampaignFilter: {
      description: `A condition, or a group \`all\` / \`any\` of filters; groups nest at most 8 deep, 200 conditions at most.`,
      oneOf: [
        ref('FilterCondition'),
        object({ all: { type: 'array', items: ref('CampaignFilter') } }, ['all'], { additionalProperties: false }),
        object({ any: { type: 'array', items: ref('CampaignFilter') } }, ['any'], { additionalProperties: false }),
      ],
    },
    FilterCondition: object(
      {
        field: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]{0,63}$' },
        op: { type: 'string', enum: ['eq', 'neq', 'in', 'not_in', 'gt', 'gte', 'lt', 'lte', 'between', 'exists', 'not_exists', 'prefix'] },
        value: {
          description:
            'eq/neq: a scalar; in/not_in: 1-1000 scalars; gt/gte/lt/lte: a number; between: [lo, hi], two numbers or two strings, lo <= hi; ' +
            'prefix: a non-empty string or 1-1000 of them (zip prefixes); exists/not_exists: no value. A missing field fails every op but not_exists.',
          anyOf: [scalar, { type: 'array', items: scalar }],
        },
      },
      ['field', 'op'],
      { additionalProperties: false },
    ),
    Vertical: entity(verticalCreate, null),
    Affiliate: entity(affiliateCreate, { type: 'string', description: 'af_…' }),
    Buyer: entity(buyerCreate, { type: 'string', description: 'by_…' }),
    Campaign: entity(campaignCreate, { type: 'string', description: 'cp_…' }, (p) => {
      p.status = { type: 'string', enum: ['active', 'paused', 'deleted'] };
    }),
    AffiliateCreated: withSecret('Affiliate', 'api_key', 'the affiliate bearer key, shown only in this answer'),
    BuyerCreated: withSecret('Buyer', 'api_key', 'the buyer bearer key, shown only in this answer'),
    CampaignCreated: withSecret('Campaign', 'signing_secret', 'HMAC key of x-leadex-signature, shown only in this answer'),
    VerticalPage: page('Vertical'),
    AffiliatePage: page('Affiliate'),
    BuyerPage: page('Buyer'),
    CampaignPage: page('Campaign'),
    CampaignStatusReport: object({
      campaign_id: { type: 'string' },
      status: { type: 'string', enum: ['active', 'paused', 'deleted'] },
      at: dateTime,
      caps: { type: 'array', items: capUsage },
      pacing: nullable(object({ max_per_minute: { type: 'integer' }, next_slot_at: nullable(dateTime) })),
      budget: nullable(object({ buyer_id: { type: 'string' }, limit: { type: 'number' }, spent: { type: 'number' }, available: { type: 'number' } })),
      today: object({ since: dateTime, pings: { type: 'integer' }, bids: { type: 'integer' }, sales: { type: 'integer' }, spend: { type: 'number' } }),
      breaker: {
        ...object({ ping: breakerState, post: breakerState, settings: { type: 'object' }, stats: object({ ping: endpointStats, post: endpointStats }) }),
        description: "this node's breakers",
      },
    }),
    AdminLead: object({
      lead: nullable(object({
        id: { type: 'string' },
        affiliate_id: { type: 'string' },
        vertical: { type: 'string' },
        ping_id: nullable({ type: 'string' }),
        status: { type: 'string' },
        mode: nullable(mode),
        reasons: { type: 'array', items: { type: 'string' } },
        price: nullable(money),
        payout: nullable(money),
        min_payout: nullable(money),
        data: ref('LeadData'),
        contact: { ...ref('Contact'), description: 'masked unless ?reveal=contact' },
        consent: { type: 'object', description: 'only tcpa and captured_at unless ?reveal=contact' },
        source: { type: 'object' },
        contact_hashes: contactHashes,
        created_at: dateTime,
      })),
      sales: {
        type: 'array',
        items: object({
          id: { type: 'string' }, campaign_id: { type: 'string' }, buyer_id: { type: 'string' }, mode, price: money, payout: money,
          bid_id: nullable({ type: 'string' }), buyer_lead_id: nullable({ type: 'string' }), created_at: dateTime,
        }),
      },
      timeline: {
        type: 'array',
        description: 'every decision, to the millisecond: considered, excluded (reason), pinged (latency, bid or no-bid reason), reserved, posted, sold, returns…',
        items: { ...object({ at: dateTime, type: { type: 'string' }, campaign_id: nullable({ type: 'string' }) }), additionalProperties: true },
      },
    }),
    LedgerEntry: object({
      id: { type: 'string' },
      at: dateTime,
      account_type: { type: 'string', enum: ['buyer', 'affiliate'] },
      account_id: { type: 'string' },
      kind: { type: 'string', description: 'sale, payout, return_credit, payout_clawback' },
      amount: { type: 'number', description: "signed from the account holder's side" },
      sale_id: nullable({ type: 'string' }),
      return_id: nullable({ type: 'string' }),
    }),
    LedgerPage: page('LedgerEntry'),

    // ---- operations (section 8)
    Readiness: object({
      status: { type: 'string', enum: ['ready', 'unavailable'] },
      checks: { type: 'object', additionalProperties: { type: 'string', description: '"ok" or why not' } },
    }),
  };
}

// ---- responses

const PROBLEMS: Record<number, [string, string]> = {
  400: ['BadRequest', 'Invalid input: every error is listed in `errors`'],
  401: ['Unauthorized', 'Missing or wrong credentials'],
  403: ['Forbidden', 'The credential is not allowed this (e.g. a paused affiliate)'],
  404: ['NotFound', 'No such thing, or not yours'],
  409: ['Conflict', 'Conflicts with the current state'],
  410: ['Gone', 'Expired'],
  413: ['PayloadTooLarge', 'Request bodies are limited to 64 KiB'],
  415: ['UnsupportedMediaType', 'The body must be sent as application/json'],
  422: ['Unprocessable', 'Well-formed, but a rule does not allow it'],
  429: ['TooManyRequests', "Over the affiliate's rate limit"],
  503: ['ServiceUnavailable', 'Postgres or Redis is unavailable, or the node is shutting down: retry'],
};

const retryAfter: Json = { description: 'seconds to wait', schema: { type: 'integer' } };

function problemResponses(): Record<string, Json> {
  return Object.fromEntries(
    Object.entries(PROBLEMS).map(([status, [name, description]]) => {
      const headers =
        status === '401' ? { 'WWW-Authenticate': { schema: { type: 'string', const: 'Bearer' } } }
        : status === '429' || status === '503' ? { 'Retry-After': retryAfter }
        : undefined;
      return [name, { description, ...(headers ? { headers } : {}), content: { 'application/problem+json': { schema: ref('Problem') } } }];
    }),
  );
}

const json = (schema: Json, description = 'OK'): Json => ({ description, content: { 'application/json': { schema } } });

/** The answers of one operation: its successes plus the problems that apply to it. */
function answers(success: Record<number, Json>, problems: number[], described: Record<number, string> = {}): Json {
  const out: Json = {};
  for (const [status, response] of Object.entries(success)) out[status] = response;
  for (const status of problems) {
    const [name] = PROBLEMS[status]!;
    const response: Json = { $ref: `#/components/responses/${name}` };
    // A $ref's sibling description overrides the shared one (OpenAPI 3.1 Reference Object).
    out[status] = described[status] ? { ...response, description: described[status] } : response;
  }
  return out;
}

const body = (schema: string, required = true): Json => ({ required, content: { 'application/json': { schema: ref(schema) } } });
const pathParam = (name: string, description: string): Json => ({ name, in: 'path', required: true, schema: { type: 'string' }, description });
const pageParams: Json[] = [
  { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: 50 } },
  { name: 'after', in: 'query', schema: { type: 'string' }, description: 'the `next` of the previous page' },
];

const admin = [{ adminToken: [] }];
const affiliate = [{ affiliateKey: [] }];
const buyer = [{ buyerKey: [] }];

/** Every /v1 answer may be 503: a database outage anywhere is 503, never 500. */
const WRITE = [400, 401, 413, 415, 503];
const READ = [401, 503];

function adminCrud(tag: string, noun: string, param: string, names: { create: string; patch: string; entity: string; created: string; page: string }): Record<string, Json> {
  const id = pathParam(param, `the ${noun}'s ${param}`);
  return {
    [`/v1/admin/${tag}`]: {
      post: {
        tags: ['admin'], summary: `Create a ${noun}`, security: admin, requestBody: body(names.create),
        responses: answers({ 201: json(ref(names.created), 'Created') }, tag === 'verticals' ? [...WRITE, 409] : WRITE,
          tag === 'verticals' ? { 409: 'The vertical already exists' } : {}),
      },
      get: { tags: ['admin'], summary: `List ${tag}`, security: admin, parameters: pageParams, responses: answers({ 200: json(ref(names.page)) }, [400, ...READ]) },
    },
    [`/v1/admin/${tag}/{${param}}`]: {
      parameters: [id],
      get: { tags: ['admin'], summary: `One ${noun}`, security: admin, responses: answers({ 200: json(ref(names.entity)) }, [...READ, 404]) },
      patch: {
        tags: ['admin'], summary: `Change a ${noun}`, security: admin, requestBody: body(names.patch),
        responses: answers({ 200: json(ref(names.entity)) }, [...WRITE, 404]),
      },
    },
  };
}

function paths(): Record<string, Json> {
  const leadProblems = [400, 401, 403, 413, 415, 429, 503];
  const crud = {
    ...adminCrud('verticals', 'vertical', 'key', { create: 'VerticalCreate', patch: 'VerticalPatch', entity: 'Vertical', created: 'Vertical', page: 'VerticalPage' }),
    ...adminCrud('affiliates', 'affiliate', 'id', { create: 'AffiliateCreate', patch: 'AffiliatePatch', entity: 'Affiliate', created: 'AffiliateCreated', page: 'AffiliatePage' }),
    ...adminCrud('buyers', 'buyer', 'id', { create: 'BuyerCreate', patch: 'BuyerPatch', entity: 'Buyer', created: 'BuyerCreated', page: 'BuyerPage' }),
    ...adminCrud('campaigns', 'campaign', 'id', { create: 'CampaignCreate', patch: 'CampaignPatch', entity: 'Campaign', created: 'CampaignCreated', page: 'CampaignPage' }),
  };
  const campaignItem = crud['/v1/admin/campaigns/{id}']!;
  campaignItem.delete = {
    tags: ['admin'], summary: 'Delete a campaign (its status becomes deleted; its history stays)', security: admin,
    responses: answers({ 204: { description: 'Deleted' } }, [...READ, 404]),
  };
  const returnId = pathParam('id', 'the return id (rt_…)');
  const decide = (verb: string): Json => ({
    tags: ['admin'],
    summary: `${verb} a pending return (once; the body is optional)`,
    security: admin,
    requestBody: body('ReturnDecision', false),
    responses: answers({ 200: json(ref('OperatorReturn')) }, [...WRITE, 404, 409], { 409: 'The return was already decided' }),
  });
  const statusFilter: Json = { name: 'status', in: 'query', schema: { type: 'string', enum: [...RETURN_STATUSES] } };

  return {
    // ---- affiliate API
    '/v1/leads': {
      post: {
        tags: ['affiliate'],
        summary: 'Direct post: the whole lead; pings, auctions and posts before answering',
        security: affiliate,
        parameters: [{
          name: 'Idempotency-Key', in: 'header', schema: { type: 'string', pattern: '^[\\x21-\\x7e]{1,255}$' },
          description: 'A retry with the same key and body gets the first answer and sells nothing twice; the same key with another body is 422.',
        }],
        requestBody: body('DirectLead'),
        responses: answers({ 200: json(ref('LeadAnswer'), 'The lead is stored whatever its status') }, [...leadProblems, 409, 422], {
          409: 'A request with this Idempotency-Key, or for this consumer, is still in progress',
          422: 'The Idempotency-Key was already used with a different body',
        }),
      },
    },
    '/v1/ping': {
      post: {
        tags: ['affiliate'],
        summary: 'Two-phase, step 1: the lead without personal data; winners are held until expires_at',
        security: affiliate,
        requestBody: body('PingRequest'),
        responses: answers({ 200: json(ref('PingAnswer')) }, [...leadProblems, 409], { 409: 'This consumer is being auctioned by another request' }),
      },
    },
    '/v1/post': {
      post: {
        tags: ['affiliate'],
        summary: 'Two-phase, step 2: the personal data of a ping that bid',
        security: affiliate,
        requestBody: body('PostRequest'),
        responses: answers({ 200: json(ref('LeadAnswer')) }, [...leadProblems, 404, 409, 410], {
          404: 'Unknown ping_id',
          409: 'The ping was already posted, or data / contact do not match the ping',
          410: 'The ping expired',
        }),
      },
    },

    // ---- buyer API
    '/v1/returns': {
      post: {
        tags: ['buyer'], summary: 'Return a lead bought within the return window', security: buyer, requestBody: body('ReturnRequest'),
        responses: answers({ 201: json(ref('BuyerReturn'), 'Created: pending, or approved at once when the exchange can prove the duplicate') }, [...WRITE, 404, 409, 422], {
          404: 'The buyer did not buy this lead',
          409: 'This sale was already returned',
          422: 'The return window has closed',
        }),
      },
      get: { tags: ['buyer'], summary: "The buyer's returns", security: buyer, parameters: [...pageParams, statusFilter], responses: answers({ 200: json(ref('BuyerReturnPage')) }, [400, ...READ]) },
    },
    '/v1/returns/{id}': {
      parameters: [returnId],
      get: { tags: ['buyer'], summary: 'One of its returns', security: buyer, responses: answers({ 200: json(ref('BuyerReturn')) }, [...READ, 404]) },
    },

    // ---- admin API
    ...crud,
    '/v1/admin/campaigns/{id}/status': {
      parameters: [pathParam('id', 'the campaign id')],
      get: {
        tags: ['admin'], summary: "Cap usage per period, pacing, budget, breaker state and today's counts", security: admin,
        responses: answers({ 200: json(ref('CampaignStatusReport')) }, [...READ, 404]),
      },
    },
    '/v1/admin/leads/{id}': {
      parameters: [pathParam('id', 'the lead id (ld_…)')],
      get: {
        tags: ['admin'], summary: 'A lead, its sales and its full timeline', security: admin,
        parameters: [{ name: 'reveal', in: 'query', schema: { const: 'contact' }, description: 'show contact and consent unmasked' }],
        responses: answers({ 200: json(ref('AdminLead')) }, [...READ, 404]),
      },
    },
    '/v1/admin/returns': {
      get: {
        tags: ['admin'], summary: 'The returns queue', security: admin,
        parameters: [...pageParams, statusFilter, { name: 'buyer_id', in: 'query', schema: { type: 'string' } }],
        responses: answers({ 200: json(ref('OperatorReturnPage')) }, [400, ...READ]),
      },
    },
    '/v1/admin/returns/{id}': {
      parameters: [returnId],
      get: { tags: ['admin'], summary: 'One return', security: admin, responses: answers({ 200: json(ref('OperatorReturn')) }, [...READ, 404]) },
    },
    '/v1/admin/returns/{id}/approve': { parameters: [returnId], post: decide('Approve (credits the buyer, claws back the payout)') },
    '/v1/admin/returns/{id}/deny': { parameters: [returnId], post: decide('Deny') },
    '/v1/admin/ledger': {
      get: {
        tags: ['admin'], summary: 'The append-only money ledger', security: admin,
        parameters: [
          { name: 'account_type', in: 'query', schema: { type: 'string', enum: ['buyer', 'affiliate'] }, description: 'required with account_id' },
          { name: 'account_id', in: 'query', schema: { type: 'string' } },
          { name: 'sale_id', in: 'query', schema: { type: 'string' } },
          { name: 'return_id', in: 'query', schema: { type: 'string' } },
          pageParams[0]!,
          { name: 'after', in: 'query', schema: { type: 'string', pattern: '^\\d{1,18}$' }, description: 'the `next` of the previous page' },
        ],
        responses: answers({ 200: json(ref('LedgerPage')) }, [400, ...READ]),
      },
    },

    // ---- operations
    '/healthz': {
      get: { tags: ['ops'], summary: 'The process is up', security: [], responses: { 200: json(object({ status: { const: 'ok' } })) } },
    },
    '/readyz': {
      get: {
        tags: ['ops'], summary: 'Postgres and Redis answer, and the node is not shutting down', security: [],
        responses: { 200: json(ref('Readiness'), 'Ready'), 503: json(ref('Readiness'), 'Not ready: `checks` names what failed') },
      },
    },
    '/metrics': {
      get: {
        tags: ['ops'], summary: 'Prometheus metrics', security: [],
        responses: { 200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } } },
      },
    },
    '/openapi.json': {
      get: { tags: ['ops'], summary: 'This document', security: [], responses: { 200: json({ type: 'object' }, 'OpenAPI 3.1') } },
    },
  };
}

function webhooks(): Record<string, Json> {
  const signed: Json[] = [
    { name: 'x-leadex-timestamp', in: 'header', required: true, schema: { type: 'string', pattern: '^\\d+$' }, description: 'Unix seconds; refuse stale ones to stop replays' },
    {
      name: 'x-leadex-signature', in: 'header', required: true, schema: { type: 'string', pattern: '^v1=[0-9a-f]{64}' },
      description: "`v1=<hex HMAC-SHA256 of \"<timestamp>.<raw body>\" with the campaign's signing_secret>`; may list several comma-separated `v1=` values",
    },
  ];
  const outOfContract = 'Anything else (late, non-2xx, another shape, over 64 KiB)';
  return {
    ping: {
      post: {
        tags: ['buyer endpoints'],
        summary: "POST <campaign ping_url>: the lead without personal data; answer within tmax_ms (and the campaign's timeout_ms)",
        description: 'Only campaigns priced by `bid` are pinged; a `fixed` campaign bids its price. Also sent: the headers configured on the campaign.',
        parameters: signed,
        requestBody: { required: true, content: { 'application/json': { schema: ref('BuyerPing') } } },
        responses: {
          200: json(ref('BuyerBid'), 'A bid, or `{ "bid": 0 }` / `{ "bid": null }` for none'),
          204: { description: 'No bid' },
          default: { description: `${outOfContract} is no bid, recorded with its reason` },
        },
      },
    },
    post: {
      post: {
        tags: ['buyer endpoints'],
        summary: 'POST <campaign post_url>: the full lead to a winner',
        description: 'A timeout, network error or 5xx is retried with the same Idempotency-Key within the post deadline; a rejection is final for this buyer.',
        parameters: [...signed, { name: 'Idempotency-Key', in: 'header', required: true, schema: { type: 'string' }, description: 'the sale id: the same on every retry of this sale' }],
        requestBody: { required: true, content: { 'application/json': { schema: ref('BuyerPost') } } },
        responses: {
          200: json(ref('BuyerPostAnswer'), 'Accepted or rejected'),
          '5XX': { description: 'Retried within the post deadline' },
          default: { description: `${outOfContract} is a failed post: the lead goes to the next bid` },
        },
      },
    },
  };
}

export function buildOpenApiDocument(): Json {
  const bearer = (description: string): Json => ({ type: 'http', scheme: 'bearer', description });
  return {
    openapi: '3.1.1',
    info: {
      title: 'leadex',
      version: '1',
      summary: 'Ping/post lead exchange: the v1 wire contract',
      description: 'All bodies are JSON; money is USD with at most 2 decimals; times are RFC 3339 UTC; errors are RFC 9457 problem+json.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    tags: [
      { name: 'affiliate', description: 'Sending leads (section 3)' },
      { name: 'buyer', description: 'Returns (section 7)' },
      { name: 'admin', description: 'The operator (section 6)' },
      { name: 'ops', description: 'Operations (section 8)' },
      { name: 'buyer endpoints', description: 'What buyers implement (section 4)' },
    ],
    paths: paths(),
    webhooks: webhooks(),
    components: {
      schemas: schemas(),
      responses: problemResponses(),
      securitySchemes: {
        adminToken: bearer('ADMIN_TOKEN from the environment'),
        affiliateKey: bearer('The affiliate API key (lxa_…), returned once at creation'),
        buyerKey: bearer('The buyer API key (lxb_…), returned once at creation'),
      },
    },
  };
}

export function openApiRoutes(): Hono {
  // Built and serialised once: the contract does not change while the process runs.
  const document = JSON.stringify(buildOpenApiDocument());
  const routes = new Hono();
  routes.get('/openapi.json', (c) => c.body(document, 200, { 'content-type': 'application/json; charset=utf-8' }));
  return routes;
}
