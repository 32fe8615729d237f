// Random bytes for the hot path, drawn from the CSPRNG 4 KiB at a time. A randomBytes() call has
// a fixed cost, about 5 µs in a loop and 10 µs in the exchange's auctions, however few bytes it
// returns; a lead took three (two IVs for its personal data, one lock token), a fortieth of the
// exchange's CPU for it. Node's randomUUID() pools its entropy the same way. A pool is never
// refilled in place: whatever was handed out keeps its bytes.
import { randomBytes } from 'node:crypto';

const POOL_BYTES = 4096;

let pool = randomBytes(POOL_BYTES);
let offset = 0;

function reserve(bytes: number): number {
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > POOL_BYTES) throw new RangeError(`1 to ${POOL_BYTES} random bytes at a time, not ${bytes}`);
  if (offset + bytes > POOL_BYTES) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  const at = offset;
  offset += bytes;
  return at;
}

/** `bytes` fresh random bytes, never handed out before. A view of the pool: do not write to it. */
export function pooledRandomBytes(bytes: number): Buffer {
  const at = reserve(bytes);
  return pool.subarray(at, at + bytes);
}

/** `bytes` fresh random bytes as lowercase hex (twice as many characters). */
export function pooledRandomHex(bytes: number): string {
  const at = reserve(bytes);
  return pool.toString('hex', at, at + bytes);
}
