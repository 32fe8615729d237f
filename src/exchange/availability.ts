// The health gate of the use cases: an auction whose outcome could not be recorded must not
// start, and must not reach a buyer's post endpoint. Checked synchronously, so it costs nothing
// per lead; src/health/health-monitor.ts keeps it current.
import { ServiceUnavailable } from '../errors/problems.ts';

export interface Availability {
  /** A dependency currently failing ('postgres', 'redis'), or null when all of them answer. */
  unavailable(): string | null;
  /** A caller saw the dependency fail: refuse new work until a later health check succeeds. */
  reportFailure(dependency: string): void;
}

/** Throws 503 when a dependency is down; `consequence` tells the caller what did not happen. */
export function requireAvailable(availability: Availability, consequence: string): void {
  const down = availability.unavailable();
  if (down !== null) throw unavailable(down, consequence);
}

export function unavailable(dependency: string, consequence: string): ServiceUnavailable {
  return new ServiceUnavailable(`${NAMES[dependency] ?? dependency} is unavailable; ${consequence}`);
}

const NAMES: Record<string, string> = { postgres: 'The database', redis: 'The shared store (Redis)' };
