// A vertical's field list is operator-defined at runtime, so its schema is built on first use
// and cached on the vertical object itself: a PATCHed vertical is a new object and gets a new schema.
import { z } from 'zod';
import type { Vertical, VerticalField } from '../catalog/types.ts';
import type { FieldError } from '../errors/problems.ts';
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
  const errors = result.success ? [] : zodIssuesToFieldErrors(result.error.issues, pathPrefix, vertical);
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

/**
 * Turns zod issues into the exchange's FieldErrors, paths joined with '.' under `pathPrefix`.
 * With a vertical, an unknown key is named as not belonging to it.
 */
export function zodIssuesToFieldErrors(issues: readonly z.core.$ZodIssue[], pathPrefix: string, vertical?: Vertical): FieldError[] {
  const errors: FieldError[] = [];
  for (const issue of issues) {
    const path = joinPath(pathPrefix, issue.path.map(String));
    if (issue.code === 'unrecognized_keys') {
      const message = vertical ? `not a field of vertical ${vertical.key}` : 'is not an accepted field';
      for (const key of issue.keys) errors.push({ path: joinPath(path, [key]), message });
    } else {
      errors.push({ path, message: issue.message });
    }
  }
  return errors;
}

function joinPath(prefix: string, parts: string[]): string {
  return (prefix === '' ? parts : [prefix, ...parts]).join('.');
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
