// Buyer filters over a lead's `data`. Pure and total: a malformed filter (one the admin schema
// would have refused) never throws here, it simply does not match, so a bad row in the catalog
// can only make a campaign miss leads, never receive leads it did not ask for.

import type { Filter, FilterCondition } from '../catalog/types.ts';

type Scalar = string | number | boolean;

/**
 * True when `data` satisfies `filter`; `null` (no filter) matches everything.
 *
 * A field that is absent (or null) fails every operator except `not_exists` — including `neq`
 * and `not_in`. A buyer who writes `state not_in [NY]` is pricing leads that *have* a state;
 * handing them leads with no state at all would be selling them something they never described.
 */
export function matchesFilter(filter: Filter | null, data: Record<string, unknown>): boolean {
  if (filter === null) return true;
  return evaluate(filter, data);
}

function evaluate(filter: Filter, data: Record<string, unknown>): boolean {
  if (typeof filter !== 'object' || filter === null) return false;
  if ('all' in filter) {
    return Array.isArray(filter.all) && filter.all.every((child) => evaluate(child, data));
  }
  if ('any' in filter) {
    return Array.isArray(filter.any) && filter.any.some((child) => evaluate(child, data));
  }
  return evaluateCondition(filter, data);
}

function evaluateCondition(condition: FilterCondition, data: Record<string, unknown>): boolean {
  if (typeof condition.field !== 'string') return false;
  // Own properties only: a field named "constructor" or "__proto__" must not see Object.prototype.
  const present = Object.hasOwn(data, condition.field) && data[condition.field] !== undefined && data[condition.field] !== null;
  if (condition.op === 'not_exists') return !present;
  if (!present) return false;
  const actual = data[condition.field];
  const expected = condition.value;

  switch (condition.op) {
    case 'exists':
      return true;
    case 'eq':
      return isScalar(actual) && actual === expected;
    case 'neq':
      return isScalar(actual) && isScalar(expected) && actual !== expected;
    case 'in':
      return isScalar(actual) && Array.isArray(expected) && expected.includes(actual);
    case 'not_in':
      return isScalar(actual) && Array.isArray(expected) && !expected.includes(actual);
    case 'gt':
      return compare(actual, expected, (c) => c > 0);
    case 'gte':
      return compare(actual, expected, (c) => c >= 0);
    case 'lt':
      return compare(actual, expected, (c) => c < 0);
    case 'lte':
      return compare(actual, expected, (c) => c <= 0);
    case 'between':
      return (
        Array.isArray(expected) &&
        expected.length === 2 &&
        compare(actual, expected[0], (c) => c >= 0) &&
        compare(actual, expected[1], (c) => c <= 0)
      );
    case 'prefix':
      return matchesPrefix(actual, expected);
    default:
      return false;
  }
}

function isScalar(value: unknown): value is Scalar {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean';
}

/**
 * Orders two values of the same kind: finite numbers numerically, strings by code unit
 * (case-sensitive). Mixed kinds never compare — "34" is not greater than 30 — because coercing
 * would let a mistyped filter quietly match.
 */
function compare(actual: unknown, expected: unknown, accept: (cmp: number) => boolean): boolean {
  if (typeof actual === 'number' && typeof expected === 'number') {
    if (!Number.isFinite(actual) || !Number.isFinite(expected)) return false;
    return accept(actual - expected);
  }
  if (typeof actual === 'string' && typeof expected === 'string') {
    return accept(actual < expected ? -1 : actual > expected ? 1 : 0);
  }
  return false;
}

// Zip codes arrive as strings or (if the vertical types them as numbers) as numbers, so the
// lead value is stringified; the prefixes themselves must be strings.
function matchesPrefix(actual: unknown, expected: unknown): boolean {
  if (typeof actual !== 'string' && typeof actual !== 'number') return false;
  const text = String(actual);
  const prefixes = Array.isArray(expected) ? expected : [expected];
  return prefixes.some((p) => typeof p === 'string' && p.length > 0 && text.startsWith(p));
}
