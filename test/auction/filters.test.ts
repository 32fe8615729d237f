import { describe, expect, it } from 'vitest';
import { matchesFilter } from '../../src/auction/filters.ts';
import type { Filter, FilterOp } from '../../src/catalog/types.ts';

const lead = { state: 'CA', zip: '90210', age: 34, credit: 'good', homeowner: true, score: 7.5 };
const cond = (field: string, op: FilterOp, value?: unknown): Filter =>
  value === undefined ? { field, op } : { field, op, value };

describe('matchesFilter', () => {
  it('matches everything without a filter', () => {
    expect(matchesFilter(null, {})).toBe(true);
    expect(matchesFilter(null, lead)).toBe(true);
  });

  describe('comparison operators', () => {
    it.each<[FilterOp, unknown, boolean]>([
      ['eq', 'CA', true],
      ['eq', 'NV', false],
      ['eq', 'ca', false], // strings are case-sensitive
      ['neq', 'NV', true],
      ['neq', 'CA', false],
      ['in', ['CA', 'NV'], true],
      ['in', ['NY'], false],
      ['not_in', ['NY', 'NJ'], true],
      ['not_in', ['CA'], false],
    ])('state %s %j -> %s', (op, value, expected) => {
      expect(matchesFilter(cond('state', op, value), lead)).toBe(expected);
    });

    it.each<[FilterOp, unknown, boolean]>([
      ['gt', 33, true],
      ['gt', 34, false],
      ['gte', 34, true],
      ['gte', 35, false],
      ['lt', 35, true],
      ['lt', 34, false],
      ['lte', 34, true],
      ['lte', 33, false],
      ['between', [25, 64], true],
      ['between', [34, 34], true], // inclusive on both ends
      ['between', [35, 64], false],
      ['between', [18, 33], false],
    ])('age %s %j -> %s', (op, value, expected) => {
      expect(matchesFilter(cond('age', op, value), lead)).toBe(expected);
    });

    it('compares numbers with fractions', () => {
      expect(matchesFilter(cond('score', 'gt', 7), lead)).toBe(true);
      expect(matchesFilter(cond('score', 'between', [7.5, 8]), lead)).toBe(true);
    });

    it('never coerces between strings and numbers', () => {
      expect(matchesFilter(cond('age', 'eq', '34'), lead)).toBe(false);
      expect(matchesFilter(cond('zip', 'eq', 90210), lead)).toBe(false);
      expect(matchesFilter(cond('zip', 'gt', 90000), lead)).toBe(false);
      expect(matchesFilter(cond('age', 'in', ['34']), lead)).toBe(false);
      expect(matchesFilter(cond('age', 'between', ['18', '64']), lead)).toBe(false);
    });

    it('orders strings case-sensitively by code unit', () => {
      expect(matchesFilter(cond('credit', 'gt', 'fair'), lead)).toBe(true);
      expect(matchesFilter(cond('credit', 'between', ['a', 'z']), lead)).toBe(true);
      expect(matchesFilter(cond('credit', 'lt', 'Z'), lead)).toBe(false); // 'g' > 'Z'
    });

    it('matches booleans with eq', () => {
      expect(matchesFilter(cond('homeowner', 'eq', true), lead)).toBe(true);
      expect(matchesFilter(cond('homeowner', 'eq', 'true'), lead)).toBe(false);
    });
  });

  describe('exists / not_exists', () => {
    it('checks presence', () => {
      expect(matchesFilter(cond('age', 'exists'), lead)).toBe(true);
      expect(matchesFilter(cond('income', 'exists'), lead)).toBe(false);
      expect(matchesFilter(cond('income', 'not_exists'), lead)).toBe(true);
      expect(matchesFilter(cond('age', 'not_exists'), lead)).toBe(false);
    });

    it('treats null as absent', () => {
      expect(matchesFilter(cond('age', 'exists'), { age: null })).toBe(false);
      expect(matchesFilter(cond('age', 'not_exists'), { age: null })).toBe(true);
    });

    it('does not see inherited properties', () => {
      expect(matchesFilter(cond('constructor', 'exists'), {})).toBe(false);
      expect(matchesFilter(cond('toString', 'not_exists'), {})).toBe(true);
    });
  });

  describe('prefix', () => {
    it('matches a single prefix or any of several', () => {
      expect(matchesFilter(cond('zip', 'prefix', '902'), lead)).toBe(true);
      expect(matchesFilter(cond('zip', 'prefix', '903'), lead)).toBe(false);
      expect(matchesFilter(cond('zip', 'prefix', ['100', '902']), lead)).toBe(true);
      expect(matchesFilter(cond('zip', 'prefix', ['100', '101']), lead)).toBe(false);
    });

    it('stringifies numeric lead values', () => {
      expect(matchesFilter(cond('zip', 'prefix', '902'), { zip: 90210 })).toBe(true);
    });

    it('ignores empty and non-string prefixes', () => {
      expect(matchesFilter(cond('zip', 'prefix', ''), lead)).toBe(false);
      expect(matchesFilter(cond('zip', 'prefix', [902]), lead)).toBe(false);
    });
  });

  describe('a missing field fails every operator except not_exists', () => {
    const ops: Array<[FilterOp, unknown]> = [
      ['eq', 'x'], ['neq', 'x'], ['in', ['x']], ['not_in', ['x']], ['gt', 1], ['gte', 1], ['lt', 1],
      ['lte', 1], ['between', [1, 2]], ['prefix', '9'], ['exists', undefined],
    ];
    it.each(ops)('%s', (op, value) => {
      expect(matchesFilter(cond('income', op, value), lead)).toBe(false);
    });
    it('not_exists', () => {
      expect(matchesFilter(cond('income', 'not_exists'), lead)).toBe(true);
    });
  });

  describe('groups', () => {
    it('all needs every child, any needs one', () => {
      const inCa = cond('state', 'eq', 'CA');
      const young = cond('age', 'lt', 30);
      expect(matchesFilter({ all: [inCa, young] }, lead)).toBe(false);
      expect(matchesFilter({ any: [inCa, young] }, lead)).toBe(true);
      expect(matchesFilter({ any: [young, cond('state', 'eq', 'NV')] }, lead)).toBe(false);
    });

    it('empty all is true, empty any is false', () => {
      expect(matchesFilter({ all: [] }, lead)).toBe(true);
      expect(matchesFilter({ any: [] }, lead)).toBe(false);
    });

    it('nests', () => {
      // CA or NV, aged 25-64, and either a homeowner or good credit in zips 902xx
      const filter: Filter = {
        all: [
          cond('state', 'in', ['CA', 'NV']),
          cond('age', 'between', [25, 64]),
          { any: [cond('homeowner', 'eq', true), { all: [cond('credit', 'eq', 'good'), cond('zip', 'prefix', '902')] }] },
        ],
      };
      expect(matchesFilter(filter, lead)).toBe(true);
      expect(matchesFilter(filter, { ...lead, homeowner: false })).toBe(true);
      expect(matchesFilter(filter, { ...lead, homeowner: false, zip: '10001' })).toBe(false);
      expect(matchesFilter(filter, { ...lead, state: 'NY' })).toBe(false);
      const { age: _age, ...noAge } = lead;
      expect(matchesFilter(filter, noAge)).toBe(false);
    });
  });

  it('fails closed on malformed filters instead of throwing', () => {
    expect(matchesFilter({ field: 'state', op: 'like' as FilterOp, value: 'C%' }, lead)).toBe(false);
    expect(matchesFilter(cond('state', 'in', 'CA'), lead)).toBe(false);
    expect(matchesFilter(cond('age', 'between', [25]), lead)).toBe(false);
    expect(matchesFilter({ all: 'nope' } as unknown as Filter, lead)).toBe(false);
  });
});
