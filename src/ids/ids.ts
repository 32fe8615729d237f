import { randomBytes } from 'node:crypto';

// Time-prefixed so ids sort roughly by creation (handy for cursors and for reading logs),
// random-suffixed so nodes never collide without coordination.
export type IdPrefix = 'ld' | 'pg' | 'sl' | 'af' | 'by' | 'cp' | 'rs' | 'rt';

// Every lead takes several ids; one randomBytes call per id was visible in the hot path's
// profile, so random bytes are drawn 4 KiB at a time and handed out 8 at a time.
const POOL_BYTES = 4096;
let pool = randomBytes(POOL_BYTES);
let offset = 0;

function random8Hex(): string {
  if (offset + 8 > POOL_BYTES) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + 8);
  offset += 8;
  return hex;
}

export function newId(prefix: IdPrefix): string {
  return `${prefix}_${Date.now().toString(36).padStart(9, '0')}${random8Hex()}`;
}

/** A secret shown once (API keys, signing secrets). */
export function newSecret(prefix: string): string {
  return `${prefix}_${randomBytes(24).toString('base64url')}`;
}
