// Time-prefixed so ids sort roughly by creation (handy for cursors and for reading logs),
// random-suffixed so nodes never collide without coordination.
import { randomBytes } from 'node:crypto';
import { pooledRandomHex } from './random-pool.ts';

export type IdPrefix = 'ld' | 'pg' | 'sl' | 'af' | 'by' | 'cp' | 'rs' | 'rt';

export function newId(prefix: IdPrefix): string {
  return `${prefix}_${Date.now().toString(36).padStart(9, '0')}${pooledRandomHex(8)}`;
}

/** A secret shown once (API keys, signing secrets). */
export function newSecret(prefix: string): string {
  return `${prefix}_${randomBytes(24).toString('base64url')}`;
}
