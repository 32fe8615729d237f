// Commits the cap reservations of recorded sales. The sale is already in Postgres when its
// reservations are committed; if the store cannot be reached then, the commit must still land
// before the reservation expires, or the sweeper would give back caps a real sale used. So a
// failed commit is retried in the background until it succeeds, and the answer does not wait.
import type { Store } from './store.ts';

export interface ReservationCommitterOptions {
  /** First pause after a failed commit; doubles up to maxRetryMs. */
  retryMs?: number;
  maxRetryMs?: number;
  onError?: (error: unknown, ids: string[]) => void;
}

export class ReservationCommitter {
  readonly #store: Store;
  readonly #retryMs: number;
  readonly #maxRetryMs: number;
  readonly #onError: ((error: unknown, ids: string[]) => void) | undefined;
  readonly #pending = new Set<string>();
  readonly #landing = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #delayMs: number;
  #retrying: Promise<void> | undefined;

  constructor(store: Store, options: ReservationCommitterOptions = {}) {
    this.#store = store;
    this.#retryMs = options.retryMs ?? 100;
    this.#maxRetryMs = options.maxRetryMs ?? 1000;
    this.#delayMs = this.#retryMs;
    this.#onError = options.onError;
  }

  /** Reservations whose commit has not landed yet. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Tries once now; on failure keeps the ids for the background retries. Never rejects. */
  async commit(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    try {
      await this.#store.commit(ids);
    } catch (error) {
      this.retry(ids, error);
    }
  }

  /**
   * Takes over ids whose first commit failed as part of another store call (the one that also
   * ends the auction, Store#endAuction): they are retried in the background as by commit().
   */
  retry(ids: string[], error: unknown): void {
    if (ids.length === 0) return;
    this.#onError?.(error, ids);
    for (const id of ids) this.#pending.add(id);
    this.#schedule();
  }

  /**
   * Takes a store call under way that commits the reservations of an answered sale (the one that
   * ends its auction, which the affiliate's answer does not wait for). It must never reject: a
   * failed commit comes back through retry().
   */
  track(call: Promise<void>): void {
    this.#landing.add(call);
    void call.finally(() => this.#landing.delete(call));
  }

  /** Resolves once every tracked call has ended. */
  async landed(): Promise<void> {
    while (this.#landing.size > 0) await Promise.all(this.#landing);
  }

  /**
   * For shutdown: waits for the tracked calls (each bounded by the store's timeout), then retries
   * what is pending for about timeoutMs (plus one store timeout); true when none is left.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    const giveUpAt = Date.now() + timeoutMs;
    await this.landed();
    while (this.#pending.size > 0 && Date.now() < giveUpAt) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      await this.#retrying;
      await this.#retry();
      if (this.#pending.size > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(this.#retryMs, Math.max(0, giveUpAt - Date.now()))));
    }
    clearTimeout(this.#timer);
    this.#timer = undefined;
    return this.#pending.size === 0;
  }

  #schedule(): void {
    if (this.#timer || this.#retrying) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#retry().finally(() => {
        if (this.#pending.size > 0) this.#schedule();
      });
    }, this.#delayMs);
    this.#timer.unref();
  }

  #retry(): Promise<void> {
    if (this.#retrying) return this.#retrying;
    const ids = [...this.#pending];
    this.#retrying = (async () => {
      try {
        // Committing is idempotent, so a retry of a commit that did land is harmless.
        await this.#store.commit(ids);
        for (const id of ids) this.#pending.delete(id);
        this.#delayMs = this.#retryMs;
      } catch (error) {
        this.#onError?.(error, ids);
        this.#delayMs = Math.min(this.#delayMs * 2, this.#maxRetryMs);
      } finally {
        this.#retrying = undefined;
      }
    })();
    return this.#retrying;
  }
}
