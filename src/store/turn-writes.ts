// Holds a connection's writes to the end of the event-loop turn. Under load many auctions run in
// one turn (one I/O callback each, with their promise continuations), and each used to write its
// Redis call on its own. A loopback write wakes Redis, and on this kind of machine (a VM with 2
// cores) each wake-up is the costly part of a call: held to the turn's end, the calls of that turn
// leave as one writev, Redis reads them at once, and their replies come back in one read.
// In `npm run bench` scenario a direct, Redis read about 0.5 times per auction instead of 2.2, and
// leadex's CPU per auction fell 10-20 % (load/FINDINGS.md, "What Redis spends").
//
// A call nobody waits for (the end of a recorded sale's auction) can wait longer: held briefly,
// it leaves with whatever the connection writes next, or alone once the hold runs out. At a low
// rate most turns write one call, and such a call would otherwise wake Redis by itself.
import type { Writable } from 'node:stream';

export class TurnWrites {
  #held: Writable | null = null;
  #brief: { stream: Writable; timer: NodeJS.Timeout } | null = null;

  /**
   * Corks `stream` until this turn's immediates run, if it is not held already. setImmediate, not
   * process.nextTick: a tick ends with the callback at hand, and the turn's other callbacks, each
   * another auction's, would write apart again. The wait is bounded by the turn's own work.
   */
  hold(stream: Writable): void {
    if (stream === this.#held || !stream.writable) return;
    if (this.#brief?.stream === stream) {
      // Corked already, by a brief hold: what it kept leaves with this turn's writes instead.
      clearTimeout(this.#brief.timer);
      this.#brief = null;
    } else {
      stream.cork();
    }
    this.#held = stream;
    setImmediate(() => {
      if (this.#held === stream) this.#held = null;
      stream.uncork();
    });
  }

  /**
   * Corks `stream` until the next turn that holds it ends, or `ms` from now, whichever comes
   * first. Writes keep their order: whatever is written later goes out behind these. For writes
   * whose caller does not wait on their answer; a caller who does waits up to `ms` longer.
   */
  holdBriefly(stream: Writable, ms: number): void {
    if (stream === this.#held || this.#brief?.stream === stream || !stream.writable) return;
    stream.cork();
    const timer = setTimeout(() => {
      if (this.#brief?.stream === stream) this.#brief = null;
      stream.uncork();
    }, ms);
    this.#brief = { stream, timer };
  }
}
