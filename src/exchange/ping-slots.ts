// Bounds the pings in flight on this node. Overloaded, the exchange itself becomes the slow
// party: with thousands of answers queued behind each other, answers that arrived in time are
// read after their deadline and counted as timeouts — no bid for the buyer, and a failure held
// against its circuit breaker. An auction first takes a slot per ping it is about to send; so
// every ping that goes out can be read in time, and the wait is the exchange's own (it is in
// the timeline). An auction that cannot get its slots within its patience is refused (503)
// rather than queued without end.
import { ServiceUnavailable } from '../errors/problems.ts';

interface Waiter {
  count: number;
  grant: () => void;
}

export class PingSlots {
  readonly capacity: number;
  #used = 0;
  readonly #waiting: Waiter[] = [];

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be an integer >= 1');
    this.capacity = capacity;
  }

  get inFlight(): number {
    return this.#used;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  /**
   * Takes `count` slots now if they are free and nobody is waiting (an auction wider than the
   * capacity takes all of them): the function that gives them back, or null.
   */
  tryAcquire(count: number): (() => void) | null {
    const wanted = this.#fit(count);
    if (wanted === 0) return () => {};
    // First come, first served: a wide auction is not starved by narrow ones slipping past it.
    if (this.#waiting.length > 0 || this.#used + wanted > this.capacity) return null;
    this.#used += wanted;
    return this.#releaser(wanted);
  }

  /**
   * Takes `count` slots, waiting in line at most `patienceMs`. Resolves to the function that gives
   * them back; calling it twice is harmless.
   */
  async acquire(count: number, patienceMs: number): Promise<() => void> {
    const now = this.tryAcquire(count);
    if (now !== null) return now;
    const wanted = this.#fit(count);
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        count: wanted,
        grant: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        const index = this.#waiting.indexOf(waiter);
        if (index >= 0) this.#waiting.splice(index, 1);
        // The head leaving may let those behind it in.
        this.#grant();
        reject(new ServiceUnavailable('The exchange is at capacity: nothing was sent to buyers, retry shortly', 1));
      }, Math.max(0, patienceMs));
      this.#waiting.push(waiter);
    });
    return this.#releaser(wanted);
  }

  #fit(count: number): number {
    return Math.min(Math.max(0, Math.ceil(count)), this.capacity);
  }

  #releaser(count: number): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#used -= count;
      this.#grant();
    };
  }

  #grant(): void {
    while (this.#waiting.length > 0 && this.#used + this.#waiting[0]!.count <= this.capacity) {
      const next = this.#waiting.shift()!;
      this.#used += next.count;
      next.grant();
    }
  }
}
