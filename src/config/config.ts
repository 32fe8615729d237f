// Configuration is read from the environment exactly once, here, and passed down from main.
import { z } from 'zod';

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
  /** How long posting (with fallbacks and retries) may take (section 5.6). */
  POST_DEADLINE_MS: int(5000, 100, 60_000),
  /** How often the audit log is flushed to Postgres, and its batch size. */
  EVENT_FLUSH_MS: int(50, 1, 10_000),
  EVENT_BATCH_SIZE: int(500, 1, 10_000),
  /** How often expired reservations are released. */
  SWEEP_INTERVAL_MS: int(1000, 50, 60_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
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
