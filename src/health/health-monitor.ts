// Keeps the availability of Postgres and Redis current by probing them in the background, so a
// lead arriving during an outage is refused at once instead of waiting for its own timeout, and
// so the exchange resumes by itself within one interval of their return.
import type { Availability } from '../exchange/availability.ts';

export interface HealthProbe {
  name: string;
  /** Rejects when the dependency does not answer. */
  check(): Promise<void>;
}

export interface HealthMonitorOptions {
  /** Pause between two rounds of probes. */
  intervalMs: number;
  /** A probe slower than this, two rounds in a row, counts as failed. */
  timeoutMs: number;
  /** Told when a dependency goes down or comes back (for the log). */
  onChange?: (name: string, up: boolean, error?: unknown) => void;
}

export class HealthMonitor implements Availability {
  readonly #probes: HealthProbe[];
  readonly #options: HealthMonitorOptions;
  /** name → the epoch at which it was found down. */
  readonly #down = new Map<string, number>();
  /** name → consecutive rounds its probe timed out. */
  readonly #slow = new Map<string, number>();
  // Bumped by every failure, so a probe that started before a reported failure cannot clear it.
  #epoch = 0;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = true;

  constructor(probes: HealthProbe[], options: HealthMonitorOptions) {
    if (!(options.intervalMs > 0) || !(options.timeoutMs > 0)) throw new RangeError('intervalMs and timeoutMs must be positive');
    this.#probes = probes;
    this.#options = options;
  }

  start(): this {
    if (!this.#stopped) return this;
    this.#stopped = false;
    this.#schedule();
    return this;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  unavailable(): string | null {
    for (const name of this.#down.keys()) return name;
    return null;
  }

  reportFailure(name: string, error?: unknown): void {
    this.#epoch++;
    if (!this.#down.has(name)) this.#options.onChange?.(name, false, error);
    this.#down.set(name, this.#epoch);
  }

  /** One round of every probe in parallel; resolves when the state reflects it. */
  async checkNow(): Promise<void> {
    const startedAt = this.#epoch;
    await Promise.all(
      this.#probes.map(async (probe) => {
        try {
          await withTimeout(probe.check(), this.#options.timeoutMs);
        } catch (error) {
          // A refusal is an outage at once. A single slow answer may be this process starved of
          // CPU (the timer fires before the answer is read): refusing every lead for it would
          // turn a hiccup into an outage.
          const slowRounds = error instanceof ProbeTimeout ? (this.#slow.get(probe.name) ?? 0) + 1 : 0;
          this.#slow.set(probe.name, slowRounds);
          if (slowRounds !== 1) this.reportFailure(probe.name, error);
          return;
        }
        this.#slow.delete(probe.name);
        const downSince = this.#down.get(probe.name);
        if (downSince !== undefined && downSince <= startedAt) {
          this.#down.delete(probe.name);
          this.#options.onChange?.(probe.name, true);
        }
      }),
    );
  }

  // The next round is scheduled only once the previous one settled: probes never pile up on a
  // dependency that is slow to answer.
  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#running = this.checkNow().finally(() => {
        this.#running = undefined;
        this.#schedule();
      });
    }, this.#options.intervalMs);
    this.#timer.unref();
  }
}

class ProbeTimeout extends Error {}

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ProbeTimeout(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
