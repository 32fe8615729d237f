// What a JSON body may hold beyond its size. Checked once, as the body is read, so nothing further
// in (canonical hashing, Postgres jsonb columns, Redis, logs) meets a value it cannot handle:
// - nesting past MAX_JSON_DEPTH (JSON.parse takes 30,000 levels; JSON.stringify and Postgres
//   overflow their stacks long before that);
// - NUL characters, which Postgres cannot store in text or jsonb;
// - unpaired UTF-16 surrogates, which JSON allows as escapes but Postgres's jsonb refuses.
import type { FieldError } from '../errors/problems.ts';

export const MAX_JSON_DEPTH = 32;
const MAX_REPORTED = 50;

const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function textProblem(text: string): string | null {
  if (text.includes('\u0000')) return 'must not contain NUL (\\u0000) characters';
  if (UNPAIRED_SURROGATE.test(text)) return 'must be valid Unicode: it has an unpaired surrogate';
  return null;
}

/**
 * Whether the JSON text `raw` can hold none of those problems, judged from the text alone: JSON
 * writes NUL and unpaired surrogates only as \u escapes (text decoded from UTF-8 holds no lone
 * surrogate), and it cannot nest deeper than it has opening brackets. Nearly every body passes,
 * and is spared the walk over all its values and the path of each.
 */
export function plainlyWellShaped(raw: string): boolean {
  if (raw.includes('\\u')) return false;
  let brackets = 0;
  for (let i = 0; i < raw.length; i++) {
    const code = raw.charCodeAt(i);
    if ((code === 0x7b || code === 0x5b) && ++brackets >= MAX_JSON_DEPTH) return false;
  }
  return true;
}

/** Every problem with the body's shape (up to a bound), each at the dotted path where it is. */
export function jsonShapeErrors(body: unknown): FieldError[] {
  const errors: FieldError[] = [];
  // Iterative: the walk must not itself be what overflows the stack.
  const pending: Array<{ value: unknown; path: string; depth: number }> = [{ value: body, path: '', depth: 0 }];
  while (pending.length > 0 && errors.length < MAX_REPORTED) {
    const { value, path, depth } = pending.pop()!;
    if (typeof value === 'string') {
      const problem = textProblem(value);
      if (problem) errors.push({ path, message: problem });
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth >= MAX_JSON_DEPTH) {
      errors.push({ path, message: `nests deeper than ${MAX_JSON_DEPTH} levels` });
      continue;
    }
    const entries: Array<[string, unknown]> = Array.isArray(value) ? value.map((item, i) => [String(i), item]) : Object.entries(value);
    const children: typeof pending = [];
    for (const [key, item] of entries) {
      const keyProblem = Array.isArray(value) ? null : textProblem(key);
      if (keyProblem) errors.push({ path, message: `has a key that ${keyProblem}` });
      else children.push({ value: item, path: path === '' ? key : `${path}.${key}`, depth: depth + 1 });
    }
    // Reversed onto the stack so problems are reported in document order.
    pending.push(...children.reverse());
  }
  return errors;
}
