// Holds a connection's writes to the end of the event-loop turn. Under load many auctions run in
// one turn (one I/O callback each, with their promise continuations), and each used to write its
// Redis call on its own. A loopback write wakes Redis, and on this kind of machine (a VM with 2
// cores) each wake-up is the costly part of a call: held to the turn's end, the calls of that turn
// leave as one writev, Redis reads them at once, and their replies come back in one read.
// In `npm run bench` scenario a direct, Redis read about 0.5 times per auction instead of 2.2, and
// leadex's CPU per auction fell 10-20 % (load/README.md, "What Redis spends").
import type { Writable } from 'node:stream';

export class TurnWrites {
  #held: Writable | null = null;

  /**
   * Corks `stream` until this turn's immediates run, if it is not held already. setImmediate, not
   * process.nextTick: a tick ends with the callback at hand, and the turn's other callbacks, each
   * another auction's, would write apart again. The wait is bounded by the turn's own work.
   */
  hold(stream: Writable): void {
    if (stream === this.#held || !stream.writable) return;
    this.#held = stream;
    stream.cork();
    setImmediate(() => {
      if (this.#held === stream) this.#held = null;
      stream.uncork();
    });
  }
}
