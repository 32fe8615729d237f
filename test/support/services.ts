// Where the real Postgres and Redis of the test run live. The suite never skips when they are
// missing: test/support/require-services.ts fails the run instead.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { globEscaped } from '../../src/store/redis-store.ts';

export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A name no other test file (or parallel run) uses: for Postgres schemas and Redis key prefixes. */
export function uniqueName(label: string): string {
  return `t_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
}

/**
 * Deletes every key under `prefix`: a test's Redis state otherwise outlives it by the keys' TTLs
 * (a consumer's memory lives 30 days), and a shared Redis fills up run after run.
 */
export async function forgetRedisPrefix(prefix: string, url = TEST_REDIS_URL): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${globEscaped(prefix)}*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
