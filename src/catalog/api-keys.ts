import { hash, timingSafeEqual } from 'node:crypto';

// API keys are 192-bit random secrets, so a plain SHA-256 is enough to store them: there is
// nothing to brute-force that a slow hash would protect. Lookups go by hash, never by key.
// Every lead request hashes its key: one-shot, without a Hash object per call.
export function hashApiKey(key: string): string {
  return hash('sha256', key, 'hex');
}

// Only this many leading hex digits of a hash are ever compared the ordinary, early-exit way.
const SELECTOR_LENGTH = 16;

/**
 * Entities by the hash of their API key. A plain Map keyed by the full hash would compare the
 * presented key's hash with a stored one character by character; here the map only narrows by a
 * short selector and the full hashes are compared with timingSafeEqual, so response times say
 * nothing about how close a guess came.
 */
export class ApiKeyIndex<T> {
  readonly #bySelector = new Map<string, Array<{ hash: Buffer; value: T }>>();

  add(keyHash: string, value: T): void {
    const selector = keyHash.slice(0, SELECTOR_LENGTH);
    const entries = this.#bySelector.get(selector) ?? [];
    entries.push({ hash: Buffer.from(keyHash, 'utf8'), value });
    this.#bySelector.set(selector, entries);
  }

  find(keyHash: string): T | undefined {
    const presented = Buffer.from(keyHash, 'utf8');
    let found: T | undefined;
    for (const entry of this.#bySelector.get(keyHash.slice(0, SELECTOR_LENGTH)) ?? []) {
      if (entry.hash.length === presented.length && timingSafeEqual(entry.hash, presented)) found = entry.value;
    }
    return found;
  }
}
