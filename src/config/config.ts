// Configuration is read from the environment exactly once, here, and passed down from main.
import { z } from 'zod';
import { DEFAULT_EVENT_LOG } from '../audit/events.ts';
import { DEFAULT_RETURN_SETTINGS } from '../returns/types.ts';
import { parseKeyList, type PiiKey } from '../pii/key-list.ts';

const optionalUrl = (protocols: string[]) =>
  z
    .string()
    .trim()
    .optional()
    .transform((value) => (value === '' ? undefined : value))
    .refine((value) => value === undefined || protocols.some((p) => value.startsWith(`${p}://`)), {
      message: `must start with ${protocols.map((p) => `${p}://`).join(' or ')}`,
    });

const int = (fallback: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(fallback);

const blankIsAbsent = (value: unknown): unknown => (typeof value === 'string' && value.trim() === '' ? undefined : value);

const piiKeys = z.preprocess(
  blankIsAbsent,
  z
    .string()
    .transform((text, ctx): PiiKey[] => {
      const parsed = parseKeyList(text);
      if (parsed.ok) return parsed.keys;
      for (const problem of parsed.problems) ctx.addIssue({ code: 'custom', message: problem });
      return z.NEVER;
    })
    .optional(),
);

export const configSchema = z.object({
  PORT: int(8080, 0, 65535),
  HOST: z.string().default('0.0.0.0'),
  /** Postgres connection string; absent means embedded PGlite under DATA_DIR. */
  DATABASE_URL: optionalUrl(['postgres', 'postgresql']),
  /** Redis connection string; absent means the single-process in-memory store. */
  REDIS_URL: optionalUrl(['redis', 'rediss']),
  /** Namespace for every Redis key, so several exchanges (or tests) can share one Redis. */
  REDIS_KEY_PREFIX: z.string().max(64).default('leadex:'),
  DATA_DIR: z.string().default('./data'),
  /** Bearer token of the operator; when absent a random one is generated and logged at start. */
  ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Default auction deadline for the ping phase (section 5.2). */
  AUCTION_TMAX_MS: int(800, 50, 30_000),
  /** How long a two-phase ping's winning bids and reservations are held (section 3.2). */
  HOLD_TTL_S: int(30, 1, 3600),
  /**
   * Pings in flight on this node at most. An auction waits (at most AUCTION_TMAX_MS, then 503)
   * for a slot per ping, so an overloaded node never lets answers that came in time expire
   * unread in its own backlog. Sized for about 100 ms of answer parsing on one core.
   */
  MAX_PINGS_IN_FLIGHT: int(1000, 1, 1_000_000),
  /** How long posting (with fallbacks and retries) may take (section 5.6). */
  POST_DEADLINE_MS: int(5000, 100, 60_000),
  /** How often the audit log is flushed to Postgres, and its batch size (see DEFAULT_EVENT_LOG). */
  EVENT_FLUSH_MS: int(DEFAULT_EVENT_LOG.flushIntervalMs, 1, 10_000),
  EVENT_BATCH_SIZE: int(DEFAULT_EVENT_LOG.batchSize, 1, 10_000),
  /** How often expired reservations are released. */
  SWEEP_INTERVAL_MS: int(1000, 50, 60_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Days after a sale during which its buyer may return the lead (section 7). */
  RETURN_WINDOW_DAYS: int(DEFAULT_RETURN_SETTINGS.windowDays, 0, 365),
  /** Keys encrypting leads' contact and consent at rest; absent: a development key (src/pii/keyring.ts). */
  PII_KEYS: piiKeys,
  /** Which of PII_KEYS encrypts new rows; the others still decrypt the rows they wrote. */
  PII_KEY_ID: z.preprocess(blankIsAbsent, z.string().optional()),
  /** Default per-affiliate request rate on the lead endpoints; 0 turns the limit off. */
  AFFILIATE_RATE_PER_S: z.coerce.number().min(0).max(1_000_000).default(1000),
  /** Requests an affiliate may send at once above that rate; absent: two seconds' worth. */
  AFFILIATE_RATE_BURST: z.preprocess(blankIsAbsent, z.coerce.number().int().min(1).max(10_000_000).optional()),
}).superRefine((config, ctx) => {
  const ids = config.PII_KEYS?.map((key) => key.id) ?? [];
  if (config.PII_KEY_ID !== undefined && ids.length === 0) {
    ctx.addIssue({ code: 'custom', path: ['PII_KEY_ID'], message: 'is set but PII_KEYS is not' });
  } else if (config.PII_KEY_ID !== undefined && !ids.includes(config.PII_KEY_ID)) {
    ctx.addIssue({ code: 'custom', path: ['PII_KEY_ID'], message: `must be one of the ids in PII_KEYS (${ids.join(', ')})` });
  } else if (config.PII_KEY_ID === undefined && ids.length > 1) {
    ctx.addIssue({ code: 'custom', path: ['PII_KEY_ID'], message: 'is required when PII_KEYS lists several keys: name the one that encrypts new rows' });
  }
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {}

/** Parses the environment; the error names every bad variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const result = configSchema.safeParse(env);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => `  ${issue.path.join('.') || '(env)'}: ${issue.message}`);
  throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
}
