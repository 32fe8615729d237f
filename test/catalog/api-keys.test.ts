import { describe, expect, it } from 'vitest';
import { ApiKeyIndex, hashApiKey } from '../../src/catalog/api-keys.ts';
import { newSecret } from '../../src/ids/ids.ts';

describe('ApiKeyIndex', () => {
  it('finds an entity by the hash of its key, and nothing for any other key', () => {
    const index = new ApiKeyIndex<string>();
    const keys = Array.from({ length: 20 }, () => newSecret('lxa'));
    keys.forEach((key, i) => index.add(hashApiKey(key), `af_${i}`));
    keys.forEach((key, i) => expect(index.find(hashApiKey(key))).toBe(`af_${i}`));
    expect(index.find(hashApiKey(newSecret('lxa')))).toBeUndefined();
    expect(index.find('')).toBeUndefined();
  });

  it('tells apart hashes that share the selector prefix: the full hash decides', () => {
    const index = new ApiKeyIndex<string>();
    const stored = hashApiKey('lxa_one');
    const sibling = `${stored.slice(0, 16)}${'0'.repeat(48)}`;
    index.add(stored, 'af_one');
    index.add(sibling, 'af_sibling');
    expect(index.find(stored)).toBe('af_one');
    expect(index.find(sibling)).toBe('af_sibling');
    expect(index.find(`${stored.slice(0, 16)}${'f'.repeat(48)}`)).toBeUndefined();
    // A prefix of a stored hash is not that hash.
    expect(index.find(stored.slice(0, 63))).toBeUndefined();
  });
});
