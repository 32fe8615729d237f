// Writes the audit trail in batches so the auction never waits on Postgres for it. A failed
// write keeps the batch and retries on the next tick: events survive a database blip.
import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/schema.ts';
import { jsonText } from '../db/json-text.ts';
import { preparedAs } from '../db/prepared-statements.ts';
import type { Asked, AuditEvent, AuditLog, PingRecord } from './events.ts';

export interface BatchWriterOptions {
  flushIntervalMs: number;
  /** Events (and pings) per statement at most. */
  batchSize: number;
  /** Beyond this many queued rows new ones are dropped (and counted) rather than exhausting memory. */
  maxQueued?: number;
  onError?: (error: unknown) => void;
}

/** Between a chunk's lead id and its events, and between chunks (see #write). */
const FIELD = '\x1f';
const CHUNK = '\x1e';

/** Campaign activity is counted per quarter hour (migrations/0008_event_chunks.sql). */
const ACTIVITY_BUCKET_MS = 15 * 60_000;

interface Activity {
  campaign_id: string;
  bucket: number;
  pings: number;
  bids: number;
}

/** What one statement takes: a count of each lead's queued events, and the rest as they are. */
interface Batch {
  leads: Array<[leadId: string, count: number]>;
  events: number;
  pings: string[];
  activity: Activity[];
}

export class BatchAuditWriter implements AuditLog {
  readonly #db: Kysely<DB>;
  readonly #options: Required<Omit<BatchWriterOptions, 'onError'>> & Pick<BatchWriterOptions, 'onError'>;
  // Events wait grouped by lead, in recorded order, as JSON text: a lead's events of one batch
  // become one row (a chunk of its timeline), and one flat string per event is cheaper to keep
  // alive until the write than a small object graph the garbage collector would trace and copy.
  #events = new Map<string, string[]>();
  #eventCount = 0;
  #pings: string[] = [];
  // Added up until written: the status view only needs the counts.
  #activity = new Map<string, Activity>();
  #timer: NodeJS.Timeout | null = null;
  #writing: Promise<void> | null = null;
  #closed = false;
  #drainRequested = false;
  #lookAgain = false;
  dropped = 0;

  constructor(db: Kysely<DB>, options: BatchWriterOptions) {
    this.#db = db;
    this.#options = { maxQueued: 1_000_000, ...options };
  }

  event(event: AuditEvent): void {
    if (!this.#admit()) return;
    const text = JSON.stringify({ at: event.at, type: event.type, campaign_id: event.campaign_id, detail: event.detail });
    const queued = this.#events.get(event.lead_id);
    if (queued === undefined) this.#events.set(event.lead_id, [text]);
    else queued.push(text);
    this.#eventCount++;
  }

  asked(asked: Asked): void {
    const bucket = asked.at - (asked.at % ACTIVITY_BUCKET_MS);
    const key = `${asked.campaign_id} ${bucket}`;
    let activity = this.#activity.get(key);
    if (activity === undefined) {
      // Bounded by campaigns × quarter hours, so it needs no admission of its own.
      activity = { campaign_id: asked.campaign_id, bucket, pings: 0, bids: 0 };
      this.#activity.set(key, activity);
      this.#schedule();
    }
    activity.pings++;
    if (asked.offered) activity.bids++;
  }

  ping(ping: PingRecord): void {
    if (this.#admit()) this.#pings.push(JSON.stringify(ping));
  }

  /** Events and pings waiting, and campaign activity counts not yet added to the table. */
  get queued(): number {
    return this.#eventCount + this.#pings.length + this.#activity.size;
  }

  /** Events and pings waiting: what batchSize and maxQueued count. */
  get #rows(): number {
    return this.#eventCount + this.#pings.length;
  }

  #admit(): boolean {
    if (this.#rows >= this.#options.maxQueued) {
      this.dropped++;
      return false;
    }
    if (this.#rows + 1 >= this.#options.batchSize) this.#drainSoon();
    else this.#schedule();
    return true;
  }

  /**
   * One pending drain at most: a callback per row behind a slow write would pile up by the
   * thousand.
   */
  #drainSoon(): void {
    if (this.#drainRequested) return;
    this.#drainRequested = true;
    queueMicrotask(() => {
      this.#drainRequested = false;
      this.#start();
    });
  }

  #schedule(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#start();
    }, this.#options.flushIntervalMs);
    this.#timer.unref();
  }

  /**
   * Starts a write unless one is under way; a write under way is only asked to look again when
   * it ends. Never a chain of waiting drains: with one per queued row, each write's end woke all
   * of them to re-queue behind the next, a cost that grew with the backlog.
   */
  #start(): void {
    if (this.#writing) {
      this.#lookAgain = true;
      return;
    }
    if (this.queued > 0) this.#run(false);
  }

  #run(everything: boolean): Promise<void> {
    this.#writing = this.#writeAll(everything).finally(() => {
      this.#writing = null;
      if (this.#lookAgain) {
        this.#lookAgain = false;
        this.#start();
      }
    });
    return this.#writing;
  }

  async flush(): Promise<void> {
    // Wait out a write under way, then write everything, what queued behind it included.
    while (this.#writing) await this.#writing;
    if (this.queued > 0) await this.#run(true);
    if (this.queued > 0) throw new Error(`audit log could not write ${this.queued} rows`);
  }

  async close(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.flush();
    this.#closed = true;
  }

  /**
   * Writes what is queued, one batch per statement. `everything` (flush, close) empties the
   * queue; otherwise the rows that arrived during a write wait for the next interval unless a
   * full batch of them is ready. Writing them at once instead turned a steady trickle of leads
   * into one small statement per lead, each a Postgres round trip and commit.
   */
  async #writeAll(everything: boolean): Promise<void> {
    for (let first = true; this.queued > 0; first = false) {
      if (!first && !everything && this.#rows < this.#options.batchSize) {
        this.#schedule();
        return;
      }
      const batch = this.#take(this.#options.batchSize);
      try {
        await this.#write(batch);
      } catch (error) {
        this.#options.onError?.(error);
        // Counted since the batch was taken: fold them back in, to be written with it next time.
        for (const activity of batch.activity) this.#count(activity);
        this.#schedule();
        return;
      }
      this.#forget(batch);
    }
  }

  /**
   * Up to `size` events (whole leads while they fit; the last one may be cut, its rest left for
   * the next statement, which keeps its order) and pings. Events and pings stay queued until the
   * write succeeds; the activity counts are handed over.
   */
  #take(size: number): Batch {
    const leads: Batch['leads'] = [];
    let events = 0;
    for (const [leadId, queued] of this.#events) {
      if (events >= size) break;
      const count = Math.min(queued.length, size - events);
      leads.push([leadId, count]);
      events += count;
    }
    // Sorted, so nodes adding to the same rows at once take their locks in the same order.
    const activity = [...this.#activity.values()].sort((a, b) => (a.campaign_id < b.campaign_id ? -1 : a.campaign_id > b.campaign_id ? 1 : a.bucket - b.bucket));
    this.#activity = new Map();
    return { leads, events, pings: this.#pings.slice(0, size), activity };
  }

  #forget(batch: Batch): void {
    for (const [leadId, count] of batch.leads) {
      const queued = this.#events.get(leadId)!;
      if (count === queued.length) this.#events.delete(leadId);
      else queued.splice(0, count);
    }
    this.#eventCount -= batch.events;
    this.#pings.splice(0, batch.pings.length);
  }

  #count(activity: Activity): void {
    const key = `${activity.campaign_id} ${activity.bucket}`;
    const known = this.#activity.get(key);
    if (known === undefined) this.#activity.set(key, activity);
    else {
      known.pings += activity.pings;
      known.bids += activity.bids;
    }
  }

  /**
   * One statement, one round trip, whatever the batch size: each kind of row travels as a single
   * parameter that Postgres unpacks. Building and serialising thousands of bound parameters cost
   * more exchange CPU than everything else the audit does. A lead's events of the batch are one
   * `event_chunks` row; the view `events` shows them one by one.
   *
   * The chunks travel as plain text split on control characters, not as one JSON document:
   * Postgres parsing a batch's JSON to pick the chunks out of it was half of what the audit cost
   * it, some 0.09 ms of Postgres CPU per lead (load/FINDINGS.md, "Costs found in place"). JSON text
   * never holds a raw control character (JSON.stringify escapes them all), and lead ids are
   * `newId`'s letters and digits (a return's too: its lead must exist), so the separators cannot
   * occur inside a chunk.
   */
  async #write(batch: Batch): Promise<void> {
    const chunks: string[] = [];
    for (const [leadId, count] of batch.leads) {
      const queued = this.#events.get(leadId)!;
      const events = count === queued.length ? queued.join(',') : queued.slice(0, count).join(',');
      chunks.push(`${leadId}${FIELD}${jsonText(`[${events}]`)}`);
    }
    await sql`${sql.raw(preparedAs('leadex_write_events'))}
      with written_pings as (
        insert into pings (id, lead_id, affiliate_id, vertical, data, email_sha256, phone_sha256, min_payout_cents, status, mode, payout_cents, expires_at, created_at)
        select id, lead_id, affiliate_id, vertical, data, email_sha256, phone_sha256, min_payout_cents, status, mode, payout_cents,
               to_timestamp(expires_at / 1000.0), to_timestamp(at / 1000.0)
        from jsonb_to_recordset(${jsonText(`[${batch.pings.join(',')}]`)}::jsonb) as x(
          id text, lead_id text, affiliate_id text, vertical text, data jsonb, email_sha256 text, phone_sha256 text,
          min_payout_cents bigint, status text, mode text, payout_cents bigint, expires_at double precision, at double precision)
        on conflict (id) do nothing
      ), counted_activity as (
        insert into campaign_activity (campaign_id, bucket, pings, bids)
        select campaign_id, to_timestamp(bucket / 1000.0), pings, bids
        from json_to_recordset(${JSON.stringify(batch.activity)}::json) as x(campaign_id text, bucket double precision, pings bigint, bids bigint)
        on conflict (campaign_id, bucket) do update
          set pings = campaign_activity.pings + excluded.pings, bids = campaign_activity.bids + excluded.bids
      )
      insert into event_chunks (lead_id, events)
      select split_part(chunk, ${FIELD}, 1), split_part(chunk, ${FIELD}, 2)::json
      -- In queued order: chunk ids are the timeline's order.
      from string_to_table(${chunks.join(CHUNK)}::text, ${CHUNK}) with ordinality as x(chunk, position)
      order by position`.execute(this.#db);
  }
}
