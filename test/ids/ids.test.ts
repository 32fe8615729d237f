import { describe, expect, it } from 'vitest';
import { newId, newSecret } from '../../src/ids/ids.ts';

describe('ids', () => {
  it('are prefixed, time-ordered and never repeat, across many refills of the random pool', () => {
    const ids = Array.from({ length: 20_000 }, () => newId('ld'));
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids.slice(0, 5)) expect(id).toMatch(/^ld_[0-9a-z]{9}[0-9a-f]{16}$/);
    const later = newId('ld');
    expect(later.slice(3, 12) >= ids[0]!.slice(3, 12)).toBe(true);
  });

  it('secrets carry 192 random bits', () => {
    expect(newSecret('lxa')).toMatch(/^lxa_[A-Za-z0-9_-]{32}$/);
    expect(newSecret('lxa')).not.toBe(newSecret('lxa'));
  });
});
