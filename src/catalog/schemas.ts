// Admin API bodies (PROTOCOL section 6). Create schemas apply the documented defaults and
// produce exactly the entity shapes of ./types.ts; patch schemas accept the same fields, all
// optional and without defaults, so "absent" always means "leave unchanged".
//
// Objects are strict: an unknown key is an error rather than silently dropped, because a typo
// in operator config ("filter" for "filters", "max_bids") would otherwise sell leads the buyer
// never agreed to. Nested objects (pricing, payout, schedule, filters, caps, vertical fields)
// are replaced whole by a patch, so their own defaults (a field's `required: false`) still apply.

import { z } from 'zod';
import { InvalidInput } from '../errors/problems.ts';
import type { FieldError } from '../errors/problems.ts';
import type { Filter, FilterOp } from './types.ts';
import { DEFAULT_BREAKER } from './breaker-defaults.ts';
import { MONEY_MAX } from './money.ts';

// ---------------------------------------------------------------------------------------------
// Shared building blocks

// The decimal rendering of a JS number is the shortest one that round-trips, i.e. what the
// client wrote in its JSON; counting digits there is exact where `x * 100` arithmetic is not.
function hasAtMostTwoDecimals(value: number): boolean {
  return /^-?\d+(\.\d{1,2})?$/.test(String(value));
}

/** Dollars: a finite number >= 0 with at most 2 decimals (so `Math.round(x * 100)` is exact cents). */
export const money = z
  .number()
  .min(0)
  .max(MONEY_MAX)
  .refine(hasAtMostTwoDecimals, 'must have at most 2 decimals');

const positiveMoney = money.refine((value) => value > 0, 'must be greater than 0');

const name = z.string().trim().min(1).max(200);

const VERTICAL_KEY = /^[a-z][a-z0-9_]{1,63}$/;
const verticalKey = z.string().regex(VERTICAL_KEY, 'must match ^[a-z][a-z0-9_]{1,63}$');

// Data field names become object keys in leads and filters; the prototype names are refused so
// no lookup can ever reach Object.prototype.
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const RESERVED_FIELD_NAMES = new Set(['__proto__', 'constructor', 'prototype']);
function isFieldName(value: string): boolean {
  return FIELD_NAME.test(value) && !RESERVED_FIELD_NAMES.has(value);
}
const fieldName = z.string().refine(isFieldName, 'must be 1-64 letters, digits or _, not starting with a digit');

const entityStatus = z.enum(['active', 'paused', 'disabled']);

function isHttpUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
}
const httpUrl = z.string().max(2048).refine(isHttpUrl, 'must be an http or https URL');

function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

function isCalendarDate(value: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (match === null) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** Unknown keys are reported as such; `buyer_id` on a campaign patch gets a clearer message. */
function unknownKeyMessage(immutable: readonly string[] = []) {
  return (issue: { code?: string; keys?: string[] }): string | undefined => {
    if (issue.code !== 'unrecognized_keys') return undefined;
    const keys = issue.keys ?? [];
    const frozen = keys.filter((key) => immutable.includes(key));
    if (frozen.length > 0) return `cannot be changed: ${frozen.join(', ')}`;
    return `unknown field${keys.length === 1 ? '' : 's'}: ${keys.join(', ')}`;
  };
}

// ---------------------------------------------------------------------------------------------
// Verticals

const fieldType = z.enum(['string', 'number', 'integer', 'boolean']);

const verticalField = z
  .strictObject(
    {
      name: fieldName,
      type: fieldType,
      required: z.boolean().default(false),
      enum: z.array(z.union([z.string(), z.number()])).min(1).max(1000).optional(),
    },
    { error: unknownKeyMessage() },
  )
  .superRefine((field, ctx) => {
    if (field.enum === undefined) return;
    if (field.type === 'boolean') {
      ctx.addIssue({ code: 'custom', path: ['enum'], message: 'a boolean field cannot have an enum' });
      return;
    }
    const seen = new Set<string | number>();
    field.enum.forEach((value, index) => {
      const fits =
        field.type === 'string' ? typeof value === 'string'
        : field.type === 'integer' ? Number.isSafeInteger(value)
        : typeof value === 'number';
      if (!fits) ctx.addIssue({ code: 'custom', path: ['enum', index], message: `must be a ${field.type}` });
      if (seen.has(value)) ctx.addIssue({ code: 'custom', path: ['enum', index], message: 'duplicate enum value' });
      seen.add(value);
    });
  });

const verticalFields = z
  .array(verticalField)
  .max(200)
  .superRefine((fields, ctx) => {
    const seen = new Set<string>();
    fields.forEach((field, index) => {
      if (seen.has(field.name)) ctx.addIssue({ code: 'custom', path: [index, 'name'], message: `duplicate field name "${field.name}"` });
      seen.add(field.name);
    });
  });

const verticalBase = z.strictObject(
  {
    fields: verticalFields,
    max_shared: z.int().min(1).max(10),
    exclusive_days: z.int().min(0).max(365),
    duplicate_days: z.int().min(0).max(365),
  },
  // The key is the vertical's identity (URL, campaigns, stored leads): fixed after creation.
  { error: unknownKeyMessage(['key']) },
);

export const verticalCreate = verticalBase.extend({
  key: verticalKey,
  max_shared: verticalBase.shape.max_shared.default(3),
  exclusive_days: verticalBase.shape.exclusive_days.default(30),
  duplicate_days: verticalBase.shape.duplicate_days.default(30),
});
export const verticalPatch = verticalBase.partial();

// ---------------------------------------------------------------------------------------------
// Affiliates

const affiliatePayout = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('revshare'), percent: z.number().min(0).max(100) }, { error: unknownKeyMessage() }),
  z.strictObject({ type: z.literal('fixed'), amount: money }, { error: unknownKeyMessage() }),
]);

const affiliateBase = z.strictObject(
  {
    name,
    payout: affiliatePayout,
    status: entityStatus,
    rate_limit_per_s: z.number().positive().max(1_000_000).nullable(),
    rate_limit_burst: z.int().min(1).max(10_000_000).nullable(),
  },
  { error: unknownKeyMessage() },
);

export const affiliateCreate = affiliateBase.extend({
  status: entityStatus.default('active'),
  // Absent stays absent (stored null): the configured default applies.
  rate_limit_per_s: affiliateBase.shape.rate_limit_per_s.optional(),
  rate_limit_burst: affiliateBase.shape.rate_limit_burst.optional(),
});
export const affiliatePatch = affiliateBase.partial();

// ---------------------------------------------------------------------------------------------
// Buyers

const buyerBase = z.strictObject(
  { name, balance: money.nullable(), credit_limit: money, status: entityStatus },
  { error: unknownKeyMessage() },
);

export const buyerCreate = buyerBase.extend({
  // Absent or null: not budgeted (e.g. invoiced buyers); a number: prepaid funds to spend.
  balance: money.nullable().default(null),
  credit_limit: money.default(0),
  status: entityStatus.default('active'),
});
export const buyerPatch = buyerBase.partial();

// ---------------------------------------------------------------------------------------------
// Campaign filters
//
// Validated by hand rather than as a zod union: a union can only say "no variant matched",
// whereas an operator needs "filters.all.1.value: between needs [lo, hi] with lo <= hi".

const FILTER_OPS: readonly FilterOp[] = [
  'eq', 'neq', 'in', 'not_in', 'gt', 'gte', 'lt', 'lte', 'between', 'exists', 'not_exists', 'prefix',
];
// Filters run for every campaign on every lead, so their size is bounded.
const MAX_FILTER_DEPTH = 8;
const MAX_FILTER_CONDITIONS = 200;
const MAX_FILTER_LIST = 1000;

type PathItem = string | number;
interface FilterIssue { path: PathItem[]; message: string }

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isScalar(value: unknown): boolean {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean';
}

function checkFilter(node: unknown, path: PathItem[], depth: number, issues: FilterIssue[], count: { conditions: number }): void {
  if (!isPlainObject(node)) {
    issues.push({ path, message: 'must be a condition { field, op, value } or a group { all: [...] } / { any: [...] }' });
    return;
  }
  const groupKey = 'all' in node ? 'all' : 'any' in node ? 'any' : null;
  if (groupKey !== null) {
    const extra = Object.keys(node).filter((key) => key !== groupKey);
    if (extra.length > 0) {
      issues.push({ path, message: `a group has exactly one key (all or any); unexpected: ${extra.join(', ')}` });
      return;
    }
    if (depth >= MAX_FILTER_DEPTH) {
      issues.push({ path, message: `groups nest at most ${MAX_FILTER_DEPTH} deep` });
      return;
    }
    const children = node[groupKey];
    if (!Array.isArray(children)) {
      issues.push({ path: [...path, groupKey], message: 'must be an array of filters' });
      return;
    }
    children.forEach((child, index) => checkFilter(child, [...path, groupKey, index], depth + 1, issues, count));
    return;
  }

  count.conditions += 1;
  if (count.conditions === MAX_FILTER_CONDITIONS + 1) {
    issues.push({ path, message: `a filter holds at most ${MAX_FILTER_CONDITIONS} conditions` });
  }
  const extra = Object.keys(node).filter((key) => key !== 'field' && key !== 'op' && key !== 'value');
  if (extra.length > 0) issues.push({ path, message: `unknown field${extra.length === 1 ? '' : 's'}: ${extra.join(', ')}` });
  if (typeof node.field !== 'string' || !isFieldName(node.field)) {
    issues.push({ path: [...path, 'field'], message: 'must be a data field name' });
  }
  const op = node.op;
  if (typeof op !== 'string' || !(FILTER_OPS as readonly string[]).includes(op)) {
    issues.push({ path: [...path, 'op'], message: `must be one of ${FILTER_OPS.join(', ')}` });
    return;
  }
  const hasValue = 'value' in node;
  const value = node.value;
  const valuePath = [...path, 'value'];
  const fail = (message: string) => issues.push({ path: valuePath, message });

  switch (op as FilterOp) {
    case 'exists':
    case 'not_exists':
      if (hasValue) fail(`${op} takes no value`);
      return;
    case 'eq':
    case 'neq':
      if (!isScalar(value)) fail(`${op} needs a string, number or boolean`);
      return;
    case 'in':
    case 'not_in':
      if (!Array.isArray(value) || value.length === 0) fail(`${op} needs a non-empty array`);
      else if (value.length > MAX_FILTER_LIST) fail(`${op} takes at most ${MAX_FILTER_LIST} values`);
      else value.forEach((item, index) => {
        if (!isScalar(item)) issues.push({ path: [...valuePath, index], message: 'must be a string, number or boolean' });
      });
      return;
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      if (typeof value !== 'number' || !Number.isFinite(value)) fail(`${op} needs a number`);
      return;
    case 'between': {
      const ok =
        Array.isArray(value) &&
        value.length === 2 &&
        ((typeof value[0] === 'number' && typeof value[1] === 'number' && Number.isFinite(value[0]) && Number.isFinite(value[1])) ||
          (typeof value[0] === 'string' && typeof value[1] === 'string'));
      if (!ok) fail('between needs [lo, hi]: two numbers or two strings');
      else if ((value[0] as number | string) > (value[1] as number | string)) fail('between needs lo <= hi');
      return;
    }
    case 'prefix': {
      const prefixes: unknown[] = Array.isArray(value) ? value : [value];
      if (Array.isArray(value) && value.length === 0) fail('prefix needs a non-empty string or a non-empty array of them');
      else if (prefixes.length > MAX_FILTER_LIST) fail(`prefix takes at most ${MAX_FILTER_LIST} values`);
      else if (!Array.isArray(value)) {
        if (typeof value !== 'string' || value === '') fail('prefix needs a non-empty string or a non-empty array of them');
      } else value.forEach((item, index) => {
        if (typeof item !== 'string' || item === '') issues.push({ path: [...valuePath, index], message: 'must be a non-empty string' });
      });
      return;
    }
  }
}

/** A recursive campaign filter (output type: Filter). */
export const filter = z.custom<Filter>().superRefine((value, ctx) => {
  const issues: FilterIssue[] = [];
  checkFilter(value, [], 0, issues, { conditions: 0 });
  for (const issue of issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
});

// ---------------------------------------------------------------------------------------------
// Campaign schedule, caps, headers

const CLOCK = /^([01]\d|2[0-3]):[0-5]\d$/;
const END_CLOCK = /^(([01]\d|2[0-3]):[0-5]\d|24:00)$/;

const timeRange = z
  .tuple([z.string().regex(CLOCK, 'must be HH:MM (00:00-23:59)'), z.string().regex(END_CLOCK, 'must be HH:MM (00:00-24:00)')])
  // Equal ends would read as "24 hours from start" under the overnight rule; nobody means that.
  .refine(([start, end]) => start !== end, 'start and end are equal; use ["00:00", "24:00"] for a whole day');

const dayRanges = z.array(timeRange).max(24);

const schedule = z.strictObject(
  {
    timezone: z.string().min(1).max(64).refine(isTimeZone, 'must be an IANA timezone, e.g. America/New_York'),
    weekly: z
      .strictObject(
        { mon: dayRanges.optional(), tue: dayRanges.optional(), wed: dayRanges.optional(), thu: dayRanges.optional(),
          fri: dayRanges.optional(), sat: dayRanges.optional(), sun: dayRanges.optional() },
        { error: unknownKeyMessage() },
      )
      .optional(),
    holidays: z.array(z.string().refine(isCalendarDate, 'must be a date YYYY-MM-DD')).max(1000).optional(),
  },
  { error: unknownKeyMessage() },
);

const cap = z
  .strictObject(
    {
      period: z.enum(['hour', 'day', 'week', 'month']),
      leads: z.int().positive().optional(),
      spend: positiveMoney.optional(),
    },
    { error: unknownKeyMessage() },
  )
  .refine((c) => c.leads !== undefined || c.spend !== undefined, 'a cap needs leads, spend or both');

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Content framing and routing belong to the exchange; x-leadex-* carries its signature; the
// hop-by-hop names and Idempotency-Key would break or confuse the transport and post retries.
const FORBIDDEN_HEADERS = new Set([
  'content-type', 'host', 'content-length', 'idempotency-key', 'transfer-encoding', 'connection',
  'keep-alive', 'upgrade', 'te', 'trailer', 'expect', 'proxy-connection',
]);
// Visible ASCII, space and tab: no CR/LF, so no header injection.
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;
const MAX_HEADERS = 20;

const headers = z.record(z.string(), z.string()).superRefine((record, ctx) => {
  const names = Object.keys(record);
  if (names.length > MAX_HEADERS) ctx.addIssue({ code: 'custom', path: [], message: `at most ${MAX_HEADERS} headers` });
  const seen = new Set<string>();
  for (const headerName of names) {
    const lower = headerName.toLowerCase();
    if (!HEADER_NAME.test(headerName) || headerName.length > 128) {
      ctx.addIssue({ code: 'custom', path: [headerName], message: 'not a valid header name' });
    } else if (FORBIDDEN_HEADERS.has(lower) || lower.startsWith('x-leadex-')) {
      ctx.addIssue({ code: 'custom', path: [headerName], message: 'this header is set by the exchange and cannot be configured' });
    } else if (seen.has(lower)) {
      ctx.addIssue({ code: 'custom', path: [headerName], message: 'duplicate header name (names are case-insensitive)' });
    }
    seen.add(lower);
    const value = record[headerName] ?? '';
    if (!HEADER_VALUE.test(value) || value.length > 4096) {
      ctx.addIssue({ code: 'custom', path: [headerName], message: 'header value must be printable ASCII, at most 4096 characters' });
    }
  }
});

const pricing = z.discriminatedUnion('type', [
  z
    .strictObject({ type: z.literal('bid'), min_bid: money.optional(), max_bid: positiveMoney.optional() }, { error: unknownKeyMessage() })
    .refine((p) => p.min_bid === undefined || p.max_bid === undefined || p.min_bid <= p.max_bid, {
      path: ['max_bid'],
      message: 'max_bid must be at least min_bid',
    }),
  z.strictObject({ type: z.literal('fixed'), price: positiveMoney }, { error: unknownKeyMessage() }),
]);

// Bounds keep a typo from disabling the breaker (a volume of 0, an error rate of 100 that can
// never be exceeded) or from benching a buyer for a day.
const breaker = z.strictObject(
  {
    error_threshold_percentage: z.int().min(1).max(99).default(DEFAULT_BREAKER.error_threshold_percentage),
    volume_threshold: z.int().min(1).max(10_000).default(DEFAULT_BREAKER.volume_threshold),
    rolling_window_ms: z.int().min(1000).max(600_000).default(DEFAULT_BREAKER.rolling_window_ms),
    reset_timeout_ms: z.int().min(100).max(3_600_000).default(DEFAULT_BREAKER.reset_timeout_ms),
  },
  { error: unknownKeyMessage() },
);

// ---------------------------------------------------------------------------------------------
// Campaigns

const campaignBase = z.strictObject(
  {
    name,
    vertical: verticalKey,
    mode: z.enum(['exclusive', 'shared']),
    pricing,
    ping_url: httpUrl.nullable(),
    post_url: httpUrl,
    headers,
    timeout_ms: z.int().min(50).max(10_000),
    filters: filter.nullable(),
    schedule: schedule.nullable(),
    caps: z.array(cap).max(20),
    max_per_minute: z.int().positive().nullable(),
    dedupe_days: z.int().min(0).max(365),
    priority: z.int().min(-1_000_000).max(1_000_000),
    weight: z.number().positive().max(1_000_000),
    status: z.enum(['active', 'paused']),
    breaker: breaker.nullable(),
    post_timeout_ms: z.int().min(100).max(60_000).nullable(),
    return_refunds_caps: z.boolean(),
  },
  { error: unknownKeyMessage(['buyer_id']) },
);

// Runs even when other fields failed so the operator sees every problem in one answer; the
// value may then be partly unparsed, hence the defensive reads.
function requirePingUrlForBids(mustBePresent: boolean) {
  return (value: unknown, ctx: { addIssue: (issue: { code: 'custom'; path: PathItem[]; message: string }) => void }): void => {
    if (!isPlainObject(value) || !isPlainObject(value.pricing) || value.pricing.type !== 'bid') return;
    const missing = mustBePresent ? value.ping_url === null || value.ping_url === undefined : value.ping_url === null;
    if (missing) ctx.addIssue({ code: 'custom', path: ['ping_url'], message: 'required when pricing.type is "bid"' });
  };
}

export const campaignCreate = campaignBase
  .extend({
    buyer_id: z.string().min(1).max(128),
    ping_url: httpUrl.nullable().default(null),
    headers: headers.default(() => ({})),
    timeout_ms: campaignBase.shape.timeout_ms.default(500),
    filters: filter.nullable().default(null),
    schedule: schedule.nullable().default(null),
    caps: campaignBase.shape.caps.default(() => []),
    max_per_minute: campaignBase.shape.max_per_minute.default(null),
    dedupe_days: campaignBase.shape.dedupe_days.default(30),
    priority: campaignBase.shape.priority.default(0),
    weight: campaignBase.shape.weight.default(1),
    status: campaignBase.shape.status.default('active'),
    // No defaults: absent stays absent, and means the exchange defaults / the post deadline.
    breaker: campaignBase.shape.breaker.optional(),
    post_timeout_ms: campaignBase.shape.post_timeout_ms.optional(),
    // Optional rather than defaulted: absent reads as false, like a campaign stored before it existed.
    return_refunds_caps: campaignBase.shape.return_refunds_caps.optional(),
  })
  .superRefine(requirePingUrlForBids(true), { when: () => true });

/**
 * Every field optional, no defaults. A patch that switches to bid pricing without a ping_url is
 * only detectable against the stored campaign: re-parse the merged result with campaignCreate.
 */
export const campaignPatch = campaignBase.partial().superRefine(requirePingUrlForBids(false), { when: () => true });

// ---------------------------------------------------------------------------------------------
// Types and parsing

export type Money = z.infer<typeof money>;
export type VerticalCreate = z.infer<typeof verticalCreate>;
export type VerticalPatch = z.infer<typeof verticalPatch>;
export type AffiliateCreate = z.infer<typeof affiliateCreate>;
export type AffiliatePatch = z.infer<typeof affiliatePatch>;
export type BuyerCreate = z.infer<typeof buyerCreate>;
export type BuyerPatch = z.infer<typeof buyerPatch>;
export type CampaignCreate = z.infer<typeof campaignCreate>;
export type CampaignPatch = z.infer<typeof campaignPatch>;
