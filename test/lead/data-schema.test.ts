import { describe, expect, it } from 'vitest';
import type { Vertical } from '../../src/catalog/types.ts';
import { validateData } from '../../src/lead/data-schema.ts';

const autoInsurance: Vertical = {
  key: 'auto_insurance',
  fields: [
    { name: 'state', type: 'string', required: true, enum: ['CA', 'NV', 'TX'] },
    { name: 'zip', type: 'string', required: true },
    { name: 'age', type: 'integer', required: true },
    { name: 'credit', type: 'string', required: false, enum: ['poor', 'fair', 'good', 'excellent'] },
    { name: 'coverage', type: 'number', required: false },
    { name: 'homeowner', type: 'boolean', required: false },
    { name: 'drivers', type: 'integer', required: false, enum: [1, 2, 3] },
  ],
  max_shared: 3,
  exclusive_days: 30,
  duplicate_days: 30,
};

const valid = { state: 'CA', zip: '90210', age: 34, credit: 'good' };

function errorsOf(data: unknown, prefix?: string) {
  const result = validateData(autoInsurance, data, prefix);
  if (result.ok) throw new Error('expected the data to be refused');
  return result.errors;
}

describe('validateData', () => {
  it('accepts data matching the vertical and returns it', () => {
    const data = { ...valid, coverage: 100000.5, homeowner: false, drivers: 2 };
    expect(validateData(autoInsurance, data)).toEqual({ ok: true, data });
  });

  it('lets optional fields be left out', () => {
    expect(validateData(autoInsurance, { state: 'NV', zip: '89101', age: 61 })).toEqual({
      ok: true,
      data: { state: 'NV', zip: '89101', age: 61 },
    });
  });

  it('lists every missing required field', () => {
    expect(errorsOf({})).toEqual([
      { path: 'data.state', message: 'is required' },
      { path: 'data.zip', message: 'is required' },
      { path: 'data.age', message: 'is required' },
    ]);
  });

  it('refuses unknown fields, naming the vertical', () => {
    expect(errorsOf({ ...valid, shoe_size: 44 })).toEqual([{ path: 'data.shoe_size', message: 'not a field of vertical auto_insurance' }]);
  });

  it.each([
    ['string', { ...valid, zip: 90210 }, 'data.zip', 'must be a string'],
    ['integer given a fraction', { ...valid, age: 34.5 }, 'data.age', 'must be an integer'],
    ['integer given a string', { ...valid, age: '34' }, 'data.age', 'must be an integer'],
    ['number given a string', { ...valid, coverage: '100' }, 'data.coverage', 'must be a number'],
    ['boolean given a string', { ...valid, homeowner: 'yes' }, 'data.homeowner', 'must be true or false'],
  ])('checks types: %s', (_label, data, path, message) => {
    expect(errorsOf(data)).toEqual([{ path, message }]);
  });

  it('refuses null for an optional field, telling the affiliate to leave it out', () => {
    expect(errorsOf({ ...valid, credit: null })).toEqual([
      { path: 'data.credit', message: 'must be a string; leave the field out when there is no value' },
    ]);
  });

  it('refuses non-finite numbers', () => {
    expect(errorsOf({ ...valid, coverage: Number.POSITIVE_INFINITY })[0]?.path).toBe('data.coverage');
    expect(errorsOf({ ...valid, coverage: Number.NaN })[0]?.path).toBe('data.coverage');
  });

  it('checks enum membership for strings and numbers', () => {
    expect(errorsOf({ ...valid, state: 'NY', drivers: 7 })).toEqual([
      { path: 'data.state', message: 'must be one of "CA", "NV", "TX"' },
      { path: 'data.drivers', message: 'must be one of 1, 2, 3' },
    ]);
  });

  it('refuses personal data in data, even in a declared field', () => {
    expect(errorsOf({ ...valid, zip: '3105550142', shoe: 'ada@example.com' })).toEqual([
      { path: 'data.shoe', message: 'not a field of vertical auto_insurance' },
      { path: 'data.zip', message: 'looks like a phone number: personal data belongs in contact' },
      { path: 'data.shoe', message: 'looks like an e-mail address: personal data belongs in contact' },
    ]);
  });

  it('lists all errors at once', () => {
    expect(errorsOf({ state: 'NY', age: 'old', extra: 1 }).map((error) => error.path)).toEqual([
      'data.state', 'data.zip', 'data.age', 'data.extra',
    ]);
  });

  it('refuses data that is not an object', () => {
    expect(errorsOf(undefined)).toEqual([{ path: 'data', message: 'is required' }]);
    expect(errorsOf([1, 2])).toEqual([{ path: 'data', message: 'must be an object' }]);
    expect(errorsOf('CA')).toEqual([{ path: 'data', message: 'must be an object' }]);
  });

  it('uses the path prefix it is given', () => {
    expect(errorsOf({ ...valid, age: 1.5 }, 'lead.data')).toEqual([{ path: 'lead.data.age', message: 'must be an integer' }]);
  });

  it('builds a fresh schema for a changed vertical object', () => {
    const widened: Vertical = { ...autoInsurance, fields: [...autoInsurance.fields, { name: 'shoe_size', type: 'integer', required: false }] };
    expect(validateData(autoInsurance, { ...valid, shoe_size: 44 }).ok).toBe(false);
    expect(validateData(widened, { ...valid, shoe_size: 44 }).ok).toBe(true);
  });
});
