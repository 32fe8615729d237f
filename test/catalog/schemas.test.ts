import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  affiliateCreate, affiliatePatch, buyerCreate, buyerPatch, campaignCreate, campaignPatch, filter, money,
  verticalCreate, verticalPatch,
} from '../../src/catalog/schemas.ts';
import type { AffiliateCreate, BuyerCreate, CampaignCreate, VerticalCreate } from '../../src/catalog/schemas.ts';
import type { Affiliate, Buyer, Campaign, Vertical } from '../../src/catalog/types.ts';
import { InvalidInput } from '../../src/errors/problems.ts';
import { fieldErrors, parseOrThrow } from '../../src/errors/zod-errors.ts';

// Compile-time: a parsed create body becomes an entity without casts.
const toVertical = (body: VerticalCreate): Vertical => body;
const toAffiliate = (id: string, body: AffiliateCreate): Affiliate => ({ id, ...body });
const toBuyer = (id: string, body: BuyerCreate): Buyer => ({ id, ...body });
const toCampaign = (id: string, body: CampaignCreate): Campaign => ({ id, ...body });

/** The errors of a failed parse as { path: message } pairs. */
function errorsOf(schema: z.ZodType, body: unknown): Array<{ path: string; message: string }> {
  const result = schema.safeParse(body);
  if (result.success) throw new Error(`expected ${JSON.stringify(body)} to be refused`);
  return fieldErrors(result.error.issues);
}
const pathsOf = (schema: z.ZodType, body: unknown) => errorsOf(schema, body).map((e) => e.path);

const exampleCampaign = {
  buyer_id: 'by_1',
  name: 'CA exclusive',
  vertical: 'auto_insurance',
  mode: 'exclusive',
  pricing: { type: 'bid', min_bid: 5, max_bid: 60 },
  ping_url: 'https://buyer.example/ping',
  post_url: 'https://buyer.example/post',
  headers: { 'x-api-key': 'secret' },
  timeout_ms: 500,
  filters: { all: [{ field: 'state', op: 'in', value: ['CA', 'NV'] }, { field: 'age', op: 'between', value: [25, 64] }] },
  schedule: {
    timezone: 'America/Los_Angeles',
    weekly: { mon: [['08:00', '18:00']], tue: [['08:00', '18:00']] },
    holidays: ['2026-12-25'],
  },
  caps: [{ period: 'day', leads: 100 }, { period: 'month', spend: 25000 }],
  max_per_minute: 30,
  dedupe_days: 30,
  priority: 0,
  weight: 1,
  status: 'active',
};
const withCampaign = (changes: Record<string, unknown>) => ({ ...exampleCampaign, ...changes });

describe('money', () => {
  it.each([0, 1, 10.5, 0.07, 17.5, 25000, 1234567.89])('accepts %s', (value) => {
    expect(money.safeParse(value).success).toBe(true);
  });
  it.each([-1, -0.01, 1.005, 0.001, Number.NaN, Number.POSITIVE_INFINITY, '5', 1e-7])('refuses %s', (value) => {
    expect(money.safeParse(value).success).toBe(false);
  });
});

describe('verticalCreate / verticalPatch', () => {
  it('applies defaults', () => {
    const parsed = verticalCreate.parse({
      key: 'auto_insurance',
      fields: [{ name: 'state', type: 'string', required: true, enum: ['CA', 'NV'] }, { name: 'age', type: 'integer' }],
    });
    expect(toVertical(parsed)).toEqual({
      key: 'auto_insurance',
      fields: [{ name: 'state', type: 'string', required: true, enum: ['CA', 'NV'] }, { name: 'age', type: 'integer', required: false }],
      max_shared: 3,
      exclusive_days: 30,
      duplicate_days: 30,
    });
  });

  it('refuses bad keys, duplicate field names, mistyped enums and out-of-range numbers', () => {
    expect(pathsOf(verticalCreate, { key: 'Auto', fields: [] })).toEqual(['key']);
    expect(pathsOf(verticalCreate, { key: 'a', fields: [] })).toEqual(['key']);
    expect(pathsOf(verticalCreate, { key: 'auto', fields: [{ name: 'age', type: 'integer' }, { name: 'age', type: 'number' }] }))
      .toEqual(['fields.1.name']);
    expect(pathsOf(verticalCreate, { key: 'auto', fields: [{ name: 'age', type: 'integer', enum: [1, 2.5, 'x'] }] }))
      .toEqual(['fields.0.enum.1', 'fields.0.enum.2']);
    expect(pathsOf(verticalCreate, { key: 'auto', fields: [{ name: 'ok', type: 'boolean', enum: [true] }] }))
      .toEqual(['fields.0.enum.0']);
    expect(pathsOf(verticalCreate, { key: 'auto', fields: [{ name: 'ok', type: 'boolean', enum: ['yes'] }] }))
      .toEqual(['fields.0.enum']);
    expect(pathsOf(verticalCreate, { key: 'auto', fields: [{ name: 'st', type: 'string', enum: ['CA', 'CA'] }] }))
      .toEqual(['fields.0.enum.1']);
    expect(pathsOf(verticalCreate, { key: 'auto', fields: [{ name: '__proto__', type: 'string' }] })).toEqual(['fields.0.name']);
    expect(pathsOf(verticalCreate, { key: 'auto', fields: [{ name: 'x', type: 'date' }] })).toEqual(['fields.0.type']);
    expect(pathsOf(verticalCreate, { key: 'auto', fields: [], max_shared: 11, exclusive_days: -1, duplicate_days: 1.5 }))
      .toEqual(['max_shared', 'exclusive_days', 'duplicate_days']);
  });

  it('patches without defaults and cannot change the key', () => {
    expect(verticalPatch.parse({})).toEqual({});
    expect(verticalPatch.parse({ max_shared: 5 })).toEqual({ max_shared: 5 });
    expect(errorsOf(verticalPatch, { key: 'other' })).toEqual([{ path: 'key', message: 'cannot be changed: key' }]);
  });
});

describe('affiliateCreate / affiliatePatch', () => {
  it('accepts both payout kinds and defaults the status', () => {
    expect(toAffiliate('af_1', affiliateCreate.parse({ name: 'Quotes Inc', payout: { type: 'revshare', percent: 70 } })))
      .toEqual({ id: 'af_1', name: 'Quotes Inc', payout: { type: 'revshare', percent: 70 }, status: 'active' });
    expect(affiliateCreate.parse({ name: 'Flat', payout: { type: 'fixed', amount: 12.5 }, status: 'paused' }).status).toBe('paused');
  });

  it('refuses bad payouts with their paths', () => {
    expect(pathsOf(affiliateCreate, { name: 'A', payout: { type: 'revshare', percent: 101 } })).toEqual(['payout.percent']);
    expect(pathsOf(affiliateCreate, { name: 'A', payout: { type: 'fixed', amount: 1.234 } })).toEqual(['payout.amount']);
    expect(pathsOf(affiliateCreate, { name: 'A', payout: { type: 'cpa', amount: 1 } })).toEqual(['payout.type']);
    expect(pathsOf(affiliateCreate, { name: ' ', payout: { type: 'fixed', amount: 1 }, status: 'gone' })).toEqual(['name', 'status']);
  });

  it('patches without defaults', () => {
    expect(affiliatePatch.parse({ status: 'disabled' })).toEqual({ status: 'disabled' });
  });
});

describe('buyerCreate / buyerPatch', () => {
  it('defaults to an unbudgeted buyer: no balance, no credit, active', () => {
    expect(toBuyer('by_1', buyerCreate.parse({ name: 'Acme' })))
      .toEqual({ id: 'by_1', name: 'Acme', balance: null, credit_limit: 0, status: 'active' });
    expect(buyerCreate.parse({ name: 'Acme', balance: 25 }).balance).toBe(25);
  });

  it('refuses negative or over-precise money', () => {
    expect(pathsOf(buyerCreate, { name: 'Acme', balance: -5, credit_limit: 0.125 })).toEqual(['balance', 'credit_limit']);
  });

  it('patches without defaults', () => {
    expect(buyerPatch.parse({ credit_limit: 500 })).toEqual({ credit_limit: 500 });
  });
});

describe('campaignCreate', () => {
  it('accepts the PROTOCOL example unchanged', () => {
    const parsed = campaignCreate.parse(exampleCampaign);
    expect(parsed).toEqual(exampleCampaign);
    expect(toCampaign('cp_1', parsed).id).toBe('cp_1');
  });

  it('fills the defaults of a minimal fixed-price campaign', () => {
    const parsed = campaignCreate.parse({
      buyer_id: 'by_1', name: 'Flat', vertical: 'auto_insurance', mode: 'shared',
      pricing: { type: 'fixed', price: 12 }, post_url: 'http://buyer.example/post',
    });
    expect(parsed).toEqual({
      buyer_id: 'by_1', name: 'Flat', vertical: 'auto_insurance', mode: 'shared',
      pricing: { type: 'fixed', price: 12 }, ping_url: null, post_url: 'http://buyer.example/post',
      headers: {}, timeout_ms: 500, filters: null, schedule: null, caps: [], max_per_minute: null,
      dedupe_days: 30, priority: 0, weight: 1, status: 'active',
    });
  });

  it('needs a ping_url for bid pricing, reported alongside other errors', () => {
    const { ping_url: _ping, ...noPing } = exampleCampaign;
    expect(errorsOf(campaignCreate, noPing)).toEqual([{ path: 'ping_url', message: 'required when pricing.type is "bid"' }]);
    expect(pathsOf(campaignCreate, { ...noPing, name: '' })).toEqual(['name', 'ping_url']);
    expect(pathsOf(campaignCreate, withCampaign({ ping_url: 'ftp://buyer.example/ping' }))).toEqual(['ping_url']);
    expect(pathsOf(campaignCreate, withCampaign({ post_url: 'not a url' }))).toEqual(['post_url']);
  });

  it('checks pricing', () => {
    expect(pathsOf(campaignCreate, withCampaign({ pricing: { type: 'bid', min_bid: 70, max_bid: 60 } }))).toEqual(['pricing.max_bid']);
    expect(pathsOf(campaignCreate, withCampaign({ pricing: { type: 'fixed', price: 0 } }))).toEqual(['pricing.price']);
    expect(pathsOf(campaignCreate, withCampaign({ pricing: { type: 'auction' } }))).toEqual(['pricing.type']);
    expect(campaignCreate.parse(withCampaign({ pricing: { type: 'bid' } })).pricing).toEqual({ type: 'bid' });
  });

  it('checks the configurable headers', () => {
    const tooMany = Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`x-h${i}`, 'v']));
    expect(pathsOf(campaignCreate, withCampaign({ headers: tooMany }))).toEqual(['headers']);
    expect(pathsOf(campaignCreate, withCampaign({ headers: { 'Content-Type': 'text/plain' } }))).toEqual(['headers.Content-Type']);
    expect(pathsOf(campaignCreate, withCampaign({ headers: { host: 'evil' } }))).toEqual(['headers.host']);
    expect(pathsOf(campaignCreate, withCampaign({ headers: { 'content-length': '1' } }))).toEqual(['headers.content-length']);
    expect(pathsOf(campaignCreate, withCampaign({ headers: { 'X-Leadex-Signature': 'forged' } }))).toEqual(['headers.X-Leadex-Signature']);
    expect(pathsOf(campaignCreate, withCampaign({ headers: { 'bad name': 'v' } }))).toEqual(['headers.bad name']);
    expect(pathsOf(campaignCreate, withCampaign({ headers: { 'x-token': 'a\r\nx-injected: 1' } }))).toEqual(['headers.x-token']);
    expect(pathsOf(campaignCreate, withCampaign({ headers: { 'x-token': 5 } }))).toEqual(['headers.x-token']);
    expect(campaignCreate.parse(withCampaign({ headers: { Authorization: 'Bearer t', 'x-leadex': 'ok' } })).headers)
      .toEqual({ Authorization: 'Bearer t', 'x-leadex': 'ok' });
  });

  it('checks numeric settings', () => {
    expect(pathsOf(campaignCreate, withCampaign({ timeout_ms: 49, max_per_minute: 0, dedupe_days: 366, priority: 1.5, weight: 0 })))
      .toEqual(['timeout_ms', 'max_per_minute', 'dedupe_days', 'priority', 'weight']);
    expect(campaignCreate.parse(withCampaign({ timeout_ms: 10_000, max_per_minute: null, weight: 0.25 })).weight).toBe(0.25);
  });

  it('checks caps', () => {
    expect(pathsOf(campaignCreate, withCampaign({ caps: [{ period: 'day' }] }))).toEqual(['caps.0']);
    expect(pathsOf(campaignCreate, withCampaign({ caps: [{ period: 'year', leads: 1 }] }))).toEqual(['caps.0.period']);
    expect(pathsOf(campaignCreate, withCampaign({ caps: [{ period: 'day', leads: 0 }, { period: 'week', spend: 10.001 }] })))
      .toEqual(['caps.0.leads', 'caps.1.spend']);
    expect(campaignCreate.parse(withCampaign({ caps: [{ period: 'hour', leads: 5, spend: 100 }] })).caps)
      .toEqual([{ period: 'hour', leads: 5, spend: 100 }]);
  });

  describe('schedule', () => {
    const withSchedule = (schedule: unknown) => withCampaign({ schedule });

    it('accepts null, 24:00 ends and overnight ranges', () => {
      expect(campaignCreate.parse(withSchedule(null)).schedule).toBeNull();
      expect(campaignCreate.parse(withSchedule({ timezone: 'Europe/Berlin', weekly: { fri: [['18:00', '24:00'], ['22:00', '02:00']] } })).schedule)
        .toEqual({ timezone: 'Europe/Berlin', weekly: { fri: [['18:00', '24:00'], ['22:00', '02:00']] } });
    });

    it('refuses an unknown timezone', () => {
      expect(pathsOf(campaignCreate, withSchedule({ timezone: 'America/Springfield' }))).toEqual(['schedule.timezone']);
    });

    it('refuses malformed times, days and holidays', () => {
      expect(pathsOf(campaignCreate, withSchedule({ timezone: 'UTC', weekly: { mon: [['25:00', '26:00']] } })))
        .toEqual(['schedule.weekly.mon.0.0', 'schedule.weekly.mon.0.1']);
      expect(pathsOf(campaignCreate, withSchedule({ timezone: 'UTC', weekly: { mon: [['24:00', '01:00']] } }))).toEqual(['schedule.weekly.mon.0.0']);
      expect(pathsOf(campaignCreate, withSchedule({ timezone: 'UTC', weekly: { tue: [['8:00', '18:00']] } }))).toEqual(['schedule.weekly.tue.0.0']);
      expect(pathsOf(campaignCreate, withSchedule({ timezone: 'UTC', weekly: { tue: [['08:00']] } }))).toEqual(['schedule.weekly.tue.0']);
      expect(pathsOf(campaignCreate, withSchedule({ timezone: 'UTC', weekly: { tue: [['08:00', '08:00']] } }))).toEqual(['schedule.weekly.tue.0']);
      expect(pathsOf(campaignCreate, withSchedule({ timezone: 'UTC', weekly: { monday: [] } }))).toEqual(['schedule.weekly.monday']);
      expect(pathsOf(campaignCreate, withSchedule({ timezone: 'UTC', holidays: ['2026-12-25', '2026-02-30', '25/12/2026'] })))
        .toEqual(['schedule.holidays.1', 'schedule.holidays.2']);
    });
  });

  describe('filters', () => {
    const withFilters = (filters: unknown) => withCampaign({ filters });

    it('accepts every operator with a fitting value, nested', () => {
      const filters = {
        any: [
          { all: [
            { field: 'state', op: 'eq', value: 'CA' }, { field: 'state', op: 'neq', value: 'NY' },
            { field: 'age', op: 'gt', value: 17 }, { field: 'age', op: 'gte', value: 18 },
            { field: 'age', op: 'lt', value: 80 }, { field: 'age', op: 'lte', value: 79.5 },
            { field: 'credit', op: 'between', value: ['a', 'h'] }, { field: 'owner', op: 'exists' },
            { field: 'bankrupt', op: 'not_exists' }, { field: 'state', op: 'not_in', value: ['NY', 'NJ'] },
          ] },
          { field: 'zip', op: 'prefix', value: '902' },
          { field: 'zip', op: 'prefix', value: ['100', '101'] },
          { all: [] },
        ],
      };
      expect(campaignCreate.parse(withFilters(filters)).filters).toEqual(filters);
      expect(campaignCreate.parse(withFilters(null)).filters).toBeNull();
    });

    it.each<[string, unknown, string[]]>([
      ['in with an empty array', { field: 'state', op: 'in', value: [] }, ['filters.value']],
      ['not_in with a scalar', { field: 'state', op: 'not_in', value: 'NY' }, ['filters.value']],
      ['in with an object member', { field: 'state', op: 'in', value: ['CA', { x: 1 }] }, ['filters.value.1']],
      ['between with one bound', { field: 'age', op: 'between', value: [25] }, ['filters.value']],
      ['between with lo > hi', { field: 'age', op: 'between', value: [64, 25] }, ['filters.value']],
      ['between with mixed kinds', { field: 'age', op: 'between', value: [25, '64'] }, ['filters.value']],
      ['gt with a string', { field: 'age', op: 'gt', value: '30' }, ['filters.value']],
      ['exists with a value', { field: 'age', op: 'exists', value: true }, ['filters.value']],
      ['eq without a value', { field: 'age', op: 'eq' }, ['filters.value']],
      ['prefix with a number', { field: 'zip', op: 'prefix', value: 902 }, ['filters.value']],
      ['prefix with an empty member', { field: 'zip', op: 'prefix', value: ['9', ''] }, ['filters.value.1']],
      ['an unknown op', { field: 'zip', op: 'like', value: '9%' }, ['filters.op']],
      ['a bad field name', { field: 'a.b', op: 'exists' }, ['filters.field']],
      ['an unknown key', { field: 'age', op: 'exists', negate: true }, ['filters']],
      ['a group with two keys', { all: [], any: [] }, ['filters']],
      ['a group that is not an array', { all: { field: 'age', op: 'exists' } }, ['filters.all']],
      ['a bare array', [{ field: 'age', op: 'exists' }], ['filters']],
    ])('refuses %s', (_label, filters, paths) => {
      expect(pathsOf(campaignCreate, withFilters(filters))).toEqual(paths);
    });

    it('reports errors deep inside groups with their full path', () => {
      const filters = { all: [{ field: 'state', op: 'in', value: ['CA'] }, { any: [{ field: 'age', op: 'between', value: [64, 25] }, { field: 'x', op: 'gte' }] }] };
      expect(pathsOf(campaignCreate, withFilters(filters))).toEqual(['filters.all.1.any.0.value', 'filters.all.1.any.1.value']);
    });

    it('bounds nesting depth', () => {
      let deep: unknown = { field: 'age', op: 'exists' };
      for (let i = 0; i < 8; i += 1) deep = { all: [deep] };
      expect(filter.safeParse(deep).success).toBe(true);
      expect(filter.safeParse({ all: [deep] }).success).toBe(false);
    });
  });

  it('refuses unknown keys by name', () => {
    expect(errorsOf(campaignCreate, withCampaign({ filter: null, max_bids: 3 }))).toEqual([
      { path: 'filter', message: 'unknown fields: filter, max_bids' },
      { path: 'max_bids', message: 'unknown fields: filter, max_bids' },
    ]);
  });

  it('refuses a non-object body', () => {
    expect(pathsOf(campaignCreate, [])).toEqual(['']);
  });
});

describe('campaignPatch', () => {
  it('applies no defaults', () => {
    expect(campaignPatch.parse({})).toEqual({});
    expect(campaignPatch.parse({ name: 'Renamed', filters: null, schedule: null, max_per_minute: null }))
      .toEqual({ name: 'Renamed', filters: null, schedule: null, max_per_minute: null });
  });

  it('validates every field it is given by the same rules', () => {
    expect(pathsOf(campaignPatch, { timeout_ms: 20_000, headers: { Host: 'x' }, filters: { field: 'age', op: 'in', value: [] } }))
      .toEqual(['headers.Host', 'timeout_ms', 'filters.value']);
  });

  it('cannot change buyer_id', () => {
    expect(errorsOf(campaignPatch, { buyer_id: 'by_2' })).toEqual([{ path: 'buyer_id', message: 'cannot be changed: buyer_id' }]);
  });

  it('cannot clear the ping_url while switching to bid pricing', () => {
    expect(pathsOf(campaignPatch, { pricing: { type: 'bid' }, ping_url: null })).toEqual(['ping_url']);
    expect(campaignPatch.parse({ pricing: { type: 'fixed', price: 9.99 }, ping_url: null }))
      .toEqual({ pricing: { type: 'fixed', price: 9.99 }, ping_url: null });
  });

  it('cannot set status to deleted (that is DELETE)', () => {
    expect(pathsOf(campaignPatch, { status: 'deleted' })).toEqual(['status']);
  });
});

describe('parseOrThrow', () => {
  it('returns the parsed value', () => {
    expect(parseOrThrow(buyerCreate, { name: 'Acme', balance: 12.5 }, 'Invalid buyer').balance).toBe(12.5);
  });

  it('throws InvalidInput listing every error', () => {
    try {
      parseOrThrow(buyerCreate, { balance: -1 }, 'Invalid buyer');
      throw new Error('expected a throw');
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidInput);
      expect((error as InvalidInput).status).toBe(400);
      expect((error as InvalidInput).errors.map((e) => e.path)).toEqual(['name', 'balance']);
    }
  });
});
