// The least I/O the and PROTOCOL's rules ask of any exchange, for the floor to do when
// asked (FLOOR_IO), so that what those rules cost can be told apart from what leadex's own code
// costs. Each part is the cheapest form of its rule, not leadex's:
//
//   redis   two store round trips per auction, the most issue 5 allows: one before the fan-out
//           (eligibility) and one for the winner (reservation). Each is an EVALSHA of a script
//           that only returns 1, so the cost is the round trip alone, no rule checked.
//   record  the sale durably committed before the answer (PROTOCOL §5 rule 8): one row per
//           auction holding the lead, its sale and its decisions (one event per ping and the
//           sale), group-committed (one multi-row insert in flight at a time, the rest queued).
//   seal    the contact and consent sealed with AES-256-GCM before they are written (issue 4).
//
// FLOOR_SIGN=1 (floor.ts) adds the HMAC signature of every buyer request (PROTOCOL §4).
import { createCipheriv, randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';

export interface FloorIo {
  /** One store round trip; resolves when answered. No-op without `redis`. */
  roundTrip(): Promise<void>;
  /** The lead's durable row, with its events; resolves once committed. No-op without `record`. */
  record(row: FloorRecord): Promise<void>;
  close(): Promise<void>;
}

export interface FloorRecord {
  leadId: string;
  campaignId: string | null;
  price: number;
  lead: { vertical: unknown; data: unknown; contact: unknown; consent: unknown; source: unknown };
  /** One per decision, already as JSON text. */
  events: string[];
}

const TABLE = `create table if not exists floor_leads (
  id text primary key,
  campaign_id text,
  price numeric,
  vertical text,
  data jsonb,
  contact text,
  consent text,
  events jsonb,
  created_at timestamptz not null default now()
)`;

const INSERT = `insert into floor_leads (id, campaign_id, price, vertical, data, contact, consent, events)
select * from unnest($1::text[], $2::text[], $3::numeric[], $4::text[], $5::jsonb[], $6::text[], $7::text[], $8::jsonb[])`;

export async function startFloorIo(parts: Set<string>, env: { redisUrl?: string; databaseUrl?: string }): Promise<FloorIo> {
  const known = new Set(['redis', 'record', 'seal']);
  for (const part of parts) if (!known.has(part)) throw new Error(`FLOOR_IO: unknown part ${part} (known: ${[...known].join(', ')})`);

  let redis: Redis | null = null;
  let sha = '';
  if (parts.has('redis')) {
    if (!env.redisUrl) throw new Error('FLOOR_IO=redis needs FLOOR_REDIS_URL');
    redis = new Redis(env.redisUrl, { enableAutoPipelining: true, maxRetriesPerRequest: 1 });
    sha = (await redis.script('LOAD', 'return 1')) as string;
  }

  let client: pg.Client | null = null;
  if (parts.has('record')) {
    if (!env.databaseUrl) throw new Error('FLOOR_IO=record needs FLOOR_DATABASE_URL');
    client = new pg.Client({ connectionString: env.databaseUrl });
    await client.connect();
    await client.query(TABLE);
  }

  const key = randomBytes(32);
  const seal = parts.has('seal')
    ? (value: unknown, context: string) => {
        const iv = randomBytes(12);
        const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
        cipher.setAAD(Buffer.from(context));
        const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
        return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
      }
    : (value: unknown) => JSON.stringify(value);

  // Group commit: rows that arrive while a statement is in flight go together in the next one.
  let queued: Array<{ row: FloorRecord; done: (error?: unknown) => void }> = [];
  let writing = false;
  const flush = () => {
    if (writing || queued.length === 0 || client === null) return;
    writing = true;
    const batch = queued;
    queued = [];
    const rows = batch.map((b) => b.row);
    client.query(
      INSERT,
      [
        rows.map((r) => r.leadId),
        rows.map((r) => r.campaignId),
        rows.map((r) => r.price),
        rows.map((r) => String(r.lead.vertical)),
        rows.map((r) => JSON.stringify(r.lead.data ?? null)),
        rows.map((r) => seal(r.lead.contact, `${r.leadId}.contact`)),
        rows.map((r) => seal(r.lead.consent, `${r.leadId}.consent`)),
        rows.map((r) => `[${r.events.join(',')}]`),
      ],
      (error: Error | null) => {
        writing = false;
        for (const b of batch) b.done(error ?? undefined);
        flush();
      },
    );
  };

  return {
    roundTrip: redis === null ? () => Promise.resolve() : async () => void (await redis.evalsha(sha, 0)),
    record:
      client === null
        ? () => Promise.resolve()
        : (row) =>
            new Promise<void>((resolve, reject) => {
              queued.push({ row, done: (error) => (error === undefined ? resolve() : reject(error)) });
              flush();
            }),
    async close() {
      redis?.disconnect();
      await client?.end().catch(() => {});
    },
  };
}
