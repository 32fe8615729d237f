// Bounds how long a query may wait for Postgres's answer, so a database that stops answering
// (a hung server, a connection lost without a reset) fails the query into a 503 instead of
// hanging it. pg's own `query_timeout` does this with a timer per query, and its callback and the
// wrapper it puts on the query's callback close over the query, which kept every query, with its
// SQL text and parameters (the lead record's and the event batch's JSON), alive until a full
// collection; hence src/clock/deadline-table.ts instead.
import type pg from 'pg';
import { DeadlineTable } from '../clock/deadline-table.ts';

/** A pooled client as the deadlines see it. */
export interface TimedClient {
  readonly client: pg.PoolClient;
  /** Set once a query on it went unanswered: it must leave the pool when it is released. */
  timedOut: boolean;
}

export interface PendingQuery {
  readonly on: TimedClient;
  /** The query's own promise's reject: a built-in function, no closure of ours. */
  readonly reject: (error: Error) => void;
}

export class QueryDeadlines {
  readonly #table: DeadlineTable<PendingQuery>;

  constructor(timeoutMs: number) {
    this.#table = new DeadlineTable(timeoutMs, (pending) => {
      // The connection is not to be trusted again: its answer may still come, to the next query.
      // Marked first, because Kysely releases the client as soon as the query has failed.
      pending.on.timedOut = true;
      // The message is pg's own, which src/db/pg-errors.ts knows as a connection failure.
      pending.reject(new Error(`Query read timeout: no answer from Postgres within ${timeoutMs} ms`));
      // Ended here rather than on release: a pool's graceful end would wait on a hung server.
      (pending.on.client as unknown as pg.Client).connection.stream.destroy();
    });
  }

  start(on: TimedClient, reject: (error: Error) => void): PendingQuery {
    const pending: PendingQuery = { on, reject };
    this.#table.start(pending);
    return pending;
  }

  /** The query answered (or failed by itself). */
  end(pending: PendingQuery): void {
    this.#table.end(pending);
  }

  close(): void {
    this.#table.close();
  }
}
