// Writes the audit trail in batches so the auction never waits on Postgres for it. A failed
// write keeps the batch and retries on the next tick: events survive a database blip.
import { sql, type Kysely } from 'kysely';
import type { DB } from '../db/schema.ts';
import { jsonText } from '../db/json-text.ts';
import { preparedAs } from '../db/prepared-statements.ts';
import type { AuditEvent, AuditLog, BidRecord, PingRecord } from './events.ts';

export interface BatchWriterOptions {
  flushIntervalMs: number;
  batchSize: number;
  /** Beyond this many queued rows new ones are dropped (and counted) rather than exhausting memory. */
  maxQueued?: number;
  onError?: (error: unknown) => void;
}

export class BatchAuditWriter implements AuditLog {
  readonly #db: Kysely<DB>;
  readonly #options: Required<Omit<BatchWriterOptions, 'onError'>> & Pick<BatchWriterOptions, 'onError'>;
  // Rows wait as JSON text, not objects: one flat string per row is cheaper to keep alive until
  // the write than a small object graph the garbage collector would trace and copy meanwhile.
  #events: string[] = [];
  #bids: string[] = [];
  #pings: string[] = [];
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
    if (this.#admit()) this.#events.push(JSON.stringify(event));
  }

  bid(bid: BidRecord): void {
    if (this.#admit()) this.#bids.push(JSON.stringify(bid));
  }

  ping(ping: PingRecord): void {
    if (this.#admit()) this.#pings.push(JSON.stringify(ping));
  }

  get queued(): number {
    return this.#events.length + this.#bids.length + this.#pings.length;
  }

  #admit(): boolean {
    if (this.queued >= this.#options.maxQueued) {
      this.dropped++;
      return false;
    }
    if (this.queued + 1 >= this.#options.batchSize) this.#drainSoon();
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
      if (!first && !everything && this.queued < this.#options.batchSize) {
        this.#schedule();
        return;
      }
      const size = this.#options.batchSize;
      const events = this.#events.slice(0, size);
      const bids = this.#bids.slice(0, size);
      const pings = this.#pings.slice(0, size);
      try {
        await this.#write(events, bids, pings);
      } catch (error) {
        this.#options.onError?.(error);
        this.#schedule();
        return;
      }
      this.#events.splice(0, events.length);
      this.#bids.splice(0, bids.length);
      this.#pings.splice(0, pings.length);
    }
  }

  /**
   * One statement, one round trip, whatever the batch size: each kind of row travels as a single
   * JSON parameter that Postgres unpacks (jsonb_to_recordset). Building and serialising thousands
   * of bound parameters cost more exchange CPU than everything else the audit does.
   */
  async #write(events: string[], bids: string[], pings: string[]): Promise<void> {
    await sql`${sql.raw(preparedAs('leadex_write_events'))}
      with written_pings as (
        insert into pings (id, lead_id, affiliate_id, vertical, data, email_sha256, phone_sha256, min_payout_cents, status, mode, payout_cents, expires_at, created_at)
        select id, lead_id, affiliate_id, vertical, data, email_sha256, phone_sha256, min_payout_cents, status, mode, payout_cents,
               to_timestamp(expires_at / 1000.0), to_timestamp(at / 1000.0)
        from jsonb_to_recordset(${jsonText(`[${pings.join(',')}]`)}::jsonb) as x(
          id text, lead_id text, affiliate_id text, vertical text, data jsonb, email_sha256 text, phone_sha256 text,
          min_payout_cents bigint, status text, mode text, payout_cents bigint, expires_at double precision, at double precision)
        on conflict (id) do nothing
      ), written_bids as (
        insert into bids (ping_id, lead_id, campaign_id, buyer_id, amount_cents, bid_id, outcome, reason, latency_ms, created_at)
        select ping_id, lead_id, campaign_id, buyer_id, amount_cents, bid_id, outcome, reason, latency_ms, to_timestamp(at / 1000.0)
        from jsonb_to_recordset(${jsonText(`[${bids.join(',')}]`)}::jsonb) as x(
          ping_id text, lead_id text, campaign_id text, buyer_id text, amount_cents bigint, bid_id text, outcome text,
          reason text, latency_ms integer, at double precision)
      )
      insert into events (lead_id, at, type, campaign_id, detail)
      select lead_id, to_timestamp(at / 1000.0), type, campaign_id, detail
      -- In recorded order: event ids are the timeline's order.
      from rows from (jsonb_to_recordset(${jsonText(`[${events.join(',')}]`)}::jsonb) as (lead_id text, at double precision, type text, campaign_id text, detail jsonb))
        with ordinality as x(lead_id, at, type, campaign_id, detail, position)
      order by position`.execute(this.#db);
  }
}
