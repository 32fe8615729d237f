// Gives back caps held by reservations nobody committed or released (a node died mid-post, a
// caller forgot). Every node may run one: releaseExpired is atomic, so two sweepers never release
// the same reservation twice.
import type { Store } from './store.ts';

export interface ReservationSweeperOptions {
  intervalMs: number;
  now?: () => number;
  /** Most reservations released per store call; a run keeps calling while batches come back full. */
  batchSize?: number;
  onReleased?: (ids: string[]) => void;
  onError?: (error: unknown) => void;
}

export function startReservationSweeper(store: Store, options: ReservationSweeperOptions): { stop(): Promise<void> } {
  const { intervalMs, now = Date.now, batchSize = 100, onReleased, onError } = options;
  if (!Number.isFinite(intervalMs) || intervalMs <= 0) throw new RangeError(`intervalMs must be positive, got ${intervalMs}`);
  if (!Number.isSafeInteger(batchSize) || batchSize <= 0) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  const report = (error: unknown): void => {
    try {
      onError?.(error);
    } catch {
      // A failing error reporter must not kill the sweeper either.
    }
  };

  const sweep = async (): Promise<void> => {
    try {
      // Drain a backlog (e.g. after an outage) now rather than batchSize per interval.
      while (!stopped) {
        const ids = await store.releaseExpired(now(), batchSize);
        if (ids.length > 0) {
          try {
            onReleased?.(ids);
          } catch (error) {
            report(error);
          }
        }
        if (ids.length < batchSize) break;
      }
    } catch (error) {
      report(error);
    }
  };

  // The next run is scheduled only after the previous one settled, so runs never overlap even
  // when the store is slower than the interval.
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = sweep().finally(() => {
        running = undefined;
        schedule();
      });
    }, intervalMs);
    // Must not keep the process alive on its own.
    timer.unref();
  };

  schedule();

  return {
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
