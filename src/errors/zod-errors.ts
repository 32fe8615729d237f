import type { z } from 'zod';
import { InvalidInput, type FieldError } from './problems.ts';

/**
 * zod issues as the `errors` of a problem body: dotted paths under `pathPrefix`
 * ("filters.all.0.value", "data.age"), one entry per unknown key at that key's path.
 */
export function fieldErrors(
  issues: readonly z.core.$ZodIssue[],
  pathPrefix = '',
  unknownKeyMessage?: string,
): FieldError[] {
  const errors: FieldError[] = [];
  for (const issue of issues) {
    const path = joinPath(pathPrefix, issue.path.map(String));
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) errors.push({ path: joinPath(path, [key]), message: unknownKeyMessage ?? issue.message });
    } else {
      errors.push({ path, message: issue.message });
    }
  }
  return errors;
}

function joinPath(prefix: string, parts: string[]): string {
  return (prefix === '' ? parts : [prefix, ...parts]).join('.');
}

/** Parses or throws a 400 that lists every problem. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors = fieldErrors(result.error.issues);
  throw new InvalidInput(`${what}: ${errors.length} ${errors.length === 1 ? 'field is' : 'fields are'} invalid`, errors);
}
