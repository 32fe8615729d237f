// Bounds how long a query may wait for Postgres's answer, so a database that stops answering
// (a hung server, a connection lost without a reset) fails the query into a 503 instead of
// hanging it. pg's own `query_timeout` does this with a timer per query whose callback, like the
// wrapper it puts on the query's callback, closes over the query; an object reachable from its own
// closures stayed alive through every young-generation collection until the next full one, and
// took its SQL text and parameters (the lead record's and the event batch's JSON) with it
// (load/README.md, "What the young generation keeps"). Here one timer per pool checks every
// pending query, and what it keeps of a query holds no closure at all.
import type pg from 'pg';

/** A pooled client as the deadlines see it. */
export interface TimedClient {
  readonly client: pg.PoolClient;
  /** Set once a query on it went unanswered: it must leave the pool when it is released. */
  timedOut: boolean;
}

export interface PendingQuery {
  readonly deadline: number;
  readonly on: TimedClient;
  /** The query's own promise's reject: a built-in function, no closure of ours. */
  readonly reject: (error: Error) => void;
}

export class QueryDeadlines {
  readonly #timeoutMs: number;
  readonly #pending = new Set<PendingQuery>();
  readonly #timer: NodeJS.Timeout;

  constructor(timeoutMs: number) {
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new RangeError('timeoutMs must be an integer >= 1');
    this.#timeoutMs = timeoutMs;
    // A tenth of the timeout, at most a second: a query overdue is failed within that much more.
    this.#timer = setInterval(() => this.#expire(Date.now()), Math.min(1000, Math.max(10, Math.floor(timeoutMs / 10))));
    this.#timer.unref();
  }

  get pending(): number {
    return this.#pending.size;
  }

  start(on: TimedClient, reject: (error: Error) => void): PendingQuery {
    const pending: PendingQuery = { deadline: Date.now() + this.#timeoutMs, on, reject };
    this.#pending.add(pending);
    return pending;
  }

  /** The query answered (or failed by itself). */
  end(pending: PendingQuery): void {
    this.#pending.delete(pending);
  }

  close(): void {
    clearInterval(this.#timer);
  }

  #expire(now: number): void {
    for (const pending of this.#pending) {
      if (pending.deadline > now) continue;
      this.#pending.delete(pending);
      // The connection is not to be trusted again: its answer may still come, to the next query.
      // Marked first, because Kysely releases the client as soon as the query has failed.
      pending.on.timedOut = true;
      // The message is pg's own, which src/db/pg-errors.ts knows as a connection failure.
      pending.reject(new Error(`Query read timeout: no answer from Postgres within ${this.#timeoutMs} ms`));
      // Ended here rather than on release: a pool's graceful end would wait on a hung server.
      (pending.on.client as unknown as pg.Client).connection.stream.destroy();
    }
  }
}
