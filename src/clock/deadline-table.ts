// Timeouts for calls to Postgres and Redis, as one table and one timer per connection pool rather
// than a timer per call. A per-call timer's callback has to reach the call, and its client libraries
// hang it, or a wrapper over it, on the call itself: an object reachable from its own closures
// stayed alive through every young-generation collection until the next full one (load/FINDINGS.md,
// "What the young generation keeps"). The table holds the calls themselves, no closure of theirs.
export class DeadlineTable<T> {
  readonly #timeoutMs: number;
  readonly #onExpired: (item: T) => void;
  readonly #pending = new Map<T, number>();
  readonly #timer: NodeJS.Timeout;

  /** `onExpired` is called once for an item still pending `timeoutMs` after it started. */
  constructor(timeoutMs: number, onExpired: (item: T) => void) {
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new RangeError('timeoutMs must be an integer >= 1');
    this.#timeoutMs = timeoutMs;
    this.#onExpired = onExpired;
    // A tenth of the timeout, within 10 ms to 1 s: an overdue item expires within that much more.
    this.#timer = setInterval(() => this.#expire(Date.now()), Math.min(1000, Math.max(10, Math.floor(timeoutMs / 10))));
    this.#timer.unref();
  }

  start(item: T): void {
    this.#pending.set(item, Date.now() + this.#timeoutMs);
  }

  end(item: T): void {
    this.#pending.delete(item);
  }

  close(): void {
    clearInterval(this.#timer);
  }

  #expire(now: number): void {
    for (const [item, deadline] of this.#pending) {
      if (deadline > now) continue;
      this.#pending.delete(item);
      this.#onExpired(item);
    }
  }
}
