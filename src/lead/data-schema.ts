// A vertical's field list is operator-defined at runtime, so its schema is built on first use
// and cached per vertical object. The cache relies on verticals being replaced, never mutated in
// place: a changed field list on the same object would keep being checked against the old schema.
import { z } from 'zod';
import type { Vertical, VerticalField } from '../catalog/types.ts';
import type { FieldError } from '../errors/problems.ts';
import { fieldErrors } from '../errors/zod-errors.ts';
import { findPersonalData } from './pii.ts';

export type DataResult = { ok: true; data: Record<string, unknown> } | { ok: false; errors: FieldError[] };

const schemas = new WeakMap<Vertical, z.ZodType<Record<string, unknown>>>();

export function validateData(vertical: Vertical, data: unknown, pathPrefix = 'data'): DataResult {
  let schema = schemas.get(vertical);
  if (!schema) {
    schema = buildSchema(vertical);
    schemas.set(vertical, schema);
  }
  const result = schema.safeParse(data);
  const errors = result.success ? [] : fieldErrors(result.error.issues, pathPrefix, `not a field of vertical ${vertical.key}`);
  // Checked even when fields are wrong or unknown: the affiliate should learn everything at once.
  if (isPlainObject(data)) errors.push(...findPersonalData(data, pathPrefix));
  return result.success && errors.length === 0 ? { ok: true, data: result.data } : { ok: false, errors };
}

function buildSchema(vertical: Vertical): z.ZodType<Record<string, unknown>> {
  const shape = Object.fromEntries(vertical.fields.map((field) => [field.name, fieldSchema(field)]));
  return z.strictObject(shape, {
    error: (issue) => (issue.input === undefined ? 'is required' : 'must be an object'),
  });
}

const TYPE_NAMES = { string: 'a string', number: 'a number', integer: 'an integer', boolean: 'true or false' } as const;

function fieldSchema(field: VerticalField): z.ZodType {
  const expected = `must be ${TYPE_NAMES[field.type]}`;
  const error = (issue: { input?: unknown }): string =>
    issue.input === undefined ? 'is required' : issue.input === null ? `${expected}; leave the field out when there is no value` : expected;
  let schema: z.ZodType;
  switch (field.type) {
    case 'string': schema = z.string({ error }); break;
    case 'number': schema = z.number({ error }); break; // zod 4 refuses NaN and ±Infinity
    case 'integer': schema = z.int({ error }); break;
    case 'boolean': schema = z.boolean({ error }); break;
  }
  if (field.enum && field.enum.length > 0) {
    const allowed = new Set<unknown>(field.enum);
    const list = field.enum.map((value) => JSON.stringify(value)).join(', ');
    schema = schema.refine((value) => allowed.has(value), { message: `must be one of ${list}` });
  }
  return field.required ? schema : schema.optional();
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
