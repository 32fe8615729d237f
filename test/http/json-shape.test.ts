import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonShapeErrors, MAX_JSON_DEPTH, plainlyWellShaped } from '../../src/http/json-shape.ts';

const nested = (depth: number): unknown => JSON.parse('['.repeat(depth) + ']'.repeat(depth));

describe('JSON body shape', () => {
  it('accepts ordinary bodies, emoji and every other well-formed Unicode text included', () => {
    expect(jsonShapeErrors({ vertical: 'auto', data: { note: '💥 Zoë 中文 \u202e' }, list: [1, null, true, { 'clé': 'é' }] })).toEqual([]);
    expect(jsonShapeErrors('plain')).toEqual([]);
  });

  it(`allows ${MAX_JSON_DEPTH} levels of nesting and refuses the next, at the path where it happens`, () => {
    expect(jsonShapeErrors(nested(MAX_JSON_DEPTH))).toEqual([]);
    expect(jsonShapeErrors({ source: { deep: nested(MAX_JSON_DEPTH) } })).toEqual([
      { path: `source.deep.${Array.from({ length: MAX_JSON_DEPTH - 2 }, () => '0').join('.')}`, message: `nests deeper than ${MAX_JSON_DEPTH} levels` },
    ]);
    // Far past what a recursive walk would survive.
    expect(jsonShapeErrors(nested(30_000))).toHaveLength(1);
  });

  it('refuses NUL characters and unpaired surrogates, in values and in keys, naming each place', () => {
    expect(jsonShapeErrors({ data: { state: 'C\u0000A', zip: ['ok', '\ud800'] }, source: { 'k\u0000': 1, ['\udc00x']: 2 } })).toEqual([
      { path: 'data.state', message: 'must not contain NUL (\\u0000) characters' },
      { path: 'data.zip.1', message: 'must be valid Unicode: it has an unpaired surrogate' },
      { path: 'source', message: 'has a key that must not contain NUL (\\u0000) characters' },
      { path: 'source', message: 'has a key that must be valid Unicode: it has an unpaired surrogate' },
    ]);
  });

  it('stops listing after 50 problems', () => {
    expect(jsonShapeErrors(Array.from({ length: 500 }, () => '\u0000'))).toHaveLength(50);
  });

  it('is judged from the text alone when the text cannot hold a problem', () => {
    expect(plainlyWellShaped(JSON.stringify({ vertical: 'auto', data: { note: '💥 Zoë' }, list: [1, [2]] }))).toBe(true);
    // An escape may be a NUL or a lone surrogate; enough brackets may nest too deep.
    expect(plainlyWellShaped(JSON.stringify({ note: 'C\u0000A' }))).toBe(false);
    expect(plainlyWellShaped('{"note":"\\u0041"}')).toBe(false);
    expect(plainlyWellShaped('['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH))).toBe(false);
    expect(plainlyWellShaped('['.repeat(MAX_JSON_DEPTH - 1) + ']'.repeat(MAX_JSON_DEPTH - 1))).toBe(true);
  });

  it('never passes text whose value the walk would refuse', () => {
    fc.assert(
      // Lone surrogates and NUL included: JSON.stringify writes them as escapes.
      fc.property(fc.jsonValue({ maxDepth: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), (value, text) => {
        for (const body of [value, { text, nested: value }]) {
          const raw = JSON.stringify(body);
          if (plainlyWellShaped(raw)) expect(jsonShapeErrors(JSON.parse(raw))).toEqual([]);
        }
      }),
      { numRuns: 500 },
    );
  });
});
