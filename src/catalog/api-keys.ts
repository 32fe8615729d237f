import { createHash } from 'node:crypto';

// API keys are 192-bit random secrets, so a plain SHA-256 is enough to store them: there is
// nothing to brute-force that a slow hash would protect. Lookups go by hash, never by key.
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}
