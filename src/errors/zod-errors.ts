import type { z } from 'zod';
import { InvalidInput, type FieldError } from './problems.ts';

/** zod issues as the `errors` of a problem body: one per issue, with a dotted path. */
export function fieldErrors(error: z.ZodError, pathPrefix = ''): FieldError[] {
  return error.issues.map((issue) => ({
    path: [pathPrefix, ...issue.path.map(String)].filter((part) => part !== '').join('.'),
    message: issue.message,
  }));
}

/** Parses or throws a 400 that lists every problem. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors = fieldErrors(result.error);
  throw new InvalidInput(`${what}: ${errors.length} ${errors.length === 1 ? 'field is' : 'fields are'} invalid`, errors);
}
