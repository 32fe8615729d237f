// Writes the audit trail in batches so the auction never waits on Postgres for it. A failed
// write keeps the batch and retries on the next tick: events survive a database blip.
import type { Kysely } from 'kysely';
import type { DB } from '../db/schema.ts';
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
  #events: AuditEvent[] = [];
  #bids: BidRecord[] = [];
  #pings: PingRecord[] = [];
  #timer: NodeJS.Timeout | null = null;
  #writing: Promise<void> | null = null;
  #closed = false;
  dropped = 0;

  constructor(db: Kysely<DB>, options: BatchWriterOptions) {
    this.#db = db;
    this.#options = { maxQueued: 1_000_000, ...options };
  }

  event(event: AuditEvent): void {
    if (this.#admit()) this.#events.push(event);
  }

  bid(bid: BidRecord): void {
    if (this.#admit()) this.#bids.push(bid);
  }

  ping(ping: PingRecord): void {
    if (this.#admit()) this.#pings.push(ping);
  }

  get queued(): number {
    return this.#events.length + this.#bids.length + this.#pings.length;
  }

  #admit(): boolean {
    if (this.queued >= this.#options.maxQueued) {
      this.dropped++;
      return false;
    }
    if (this.queued + 1 >= this.#options.batchSize) queueMicrotask(() => void this.#drain().catch(() => {}));
    else this.#schedule();
    return true;
  }

  #schedule(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#drain().catch(() => {});
    }, this.#options.flushIntervalMs);
    this.#timer.unref();
  }

  async flush(): Promise<void> {
    // Two passes: one for a write already under way, one for what queued behind it.
    await this.#drain();
    await this.#drain();
    if (this.queued > 0) throw new Error(`audit log could not write ${this.queued} rows`);
  }

  async close(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.flush();
    this.#closed = true;
  }

  /** Writes everything queued, one batch at a time, never two writes at once. */
  #drain(): Promise<void> {
    if (this.#writing) return this.#writing.then(() => this.#drain());
    if (this.queued === 0) return Promise.resolve();
    this.#writing = this.#writeAll().finally(() => {
      this.#writing = null;
    });
    return this.#writing;
  }

  async #writeAll(): Promise<void> {
    while (this.queued > 0) {
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

  async #write(events: AuditEvent[], bids: BidRecord[], pings: PingRecord[]): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      if (pings.length > 0) {
        await trx
          .insertInto('pings')
          .values(
            pings.map((p) => ({
              id: p.id,
              lead_id: p.lead_id,
              affiliate_id: p.affiliate_id,
              vertical: p.vertical,
              data: JSON.stringify(p.data),
              email_sha256: p.email_sha256,
              phone_sha256: p.phone_sha256,
              min_payout_cents: p.min_payout_cents,
              status: p.status,
              mode: p.mode,
              payout_cents: p.payout_cents,
              expires_at: p.expires_at === null ? null : new Date(p.expires_at),
              created_at: new Date(p.at),
            })),
          )
          .onConflict((oc) => oc.column('id').doNothing())
          .execute();
      }
      if (bids.length > 0) {
        await trx
          .insertInto('bids')
          .values(
            bids.map((b) => ({
              ping_id: b.ping_id,
              lead_id: b.lead_id,
              campaign_id: b.campaign_id,
              buyer_id: b.buyer_id,
              amount_cents: b.amount_cents,
              bid_id: b.bid_id,
              outcome: b.outcome,
              reason: b.reason,
              latency_ms: b.latency_ms,
              created_at: new Date(b.at),
            })),
          )
          .execute();
      }
      if (events.length > 0) {
        await trx
          .insertInto('events')
          .values(
            events.map((e) => ({
              lead_id: e.lead_id,
              at: new Date(e.at),
              type: e.type,
              campaign_id: e.campaign_id,
              detail: JSON.stringify(e.detail),
            })),
          )
          .execute();
      }
    });
  }
}
