// Counts the lead requests being served, so a graceful shutdown waits for exactly those (an
// auction in progress may already have posted the lead to a buyer) and refuses new ones.
import type { MiddlewareHandler } from 'hono';
import { ServiceUnavailable } from '../errors/problems.ts';
import type { Probe } from './ops-routes.ts';

export class InFlightTracker {
  #count = 0;
  #accepting = true;
  #waiters: Array<() => void> = [];

  readonly middleware: MiddlewareHandler = async (_c, next) => {
    if (!this.#accepting) {
      const refusal = new ServiceUnavailable('The exchange is shutting down; send the lead again');
      // The client should reconnect, presumably to another node.
      refusal.headers.connection = 'close';
      throw refusal;
    }
    this.#count++;
    try {
      await next();
    } finally {
      this.#count--;
      if (this.#count === 0) this.#wake();
    }
  };

  /** Readiness fails from the moment shutdown starts, so load balancers stop sending here. */
  readonly probe: Probe = {
    name: 'accepting',
    check: async () => {
      if (!this.#accepting) throw new Error('shutting down');
    },
  };

  get count(): number {
    return this.#count;
  }

  get accepting(): boolean {
    return this.#accepting;
  }

  stopAccepting(): void {
    this.#accepting = false;
  }

  /** Resolves true once no tracked request is in flight, false if timeoutMs passes first. */
  drained(timeoutMs: number): Promise<boolean> {
    if (this.#count === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#waiters.push(done);
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
