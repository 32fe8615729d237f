// Graceful shutdown (SIGTERM): stop taking work, let the auctions in progress finish — their
// buyers may already hold the lead — then flush the event log and close the pools.
import type { Logger } from 'pino';
import type { InFlightTracker } from './http/in-flight.ts';

/** What shutdown needs of the HTTP server (node:http's Server has all of it). */
export interface ClosableServer {
  close(callback: () => void): void;
  closeIdleConnections?(): void;
  closeAllConnections?(): void;
}

export interface ShutdownParts {
  server: ClosableServer;
  inFlight: InFlightTracker;
  /** Closes the runtime: sweeper, pending commits, event log flush, store, database. */
  close(): Promise<void>;
  log: Logger;
  /** How long in-flight lead requests may take to finish: the longest answer there can be. */
  drainTimeoutMs: number;
  /** How long answered keep-alive connections get to go away before they are cut. */
  connectionGraceMs?: number;
  /** How long the server keeps its connections after it stops taking work, for requests already on their way. */
  transitGraceMs?: number;
}

/** Resolves once everything is closed; `drained` is false when in-flight requests were cut. */
export async function shutDown(parts: ShutdownParts): Promise<{ drained: boolean }> {
  const { server, inFlight, log } = parts;
  inFlight.stopAccepting();
  // server.close() drops every connection that looks idle at once, and a request sent a moment
  // before the signal can still be on its way over one of them: it would meet a reset instead of
  // an answer. For a moment the server keeps them, and its port, so such a request is read and
  // refused (503, Connection: close), which a client knows to send again elsewhere.
  await new Promise((resolve) => setTimeout(resolve, parts.transitGraceMs ?? 250));
  let serverClosed = false;
  const closed = new Promise<void>((resolve) =>
    server.close(() => {
      serverClosed = true;
      resolve();
    }),
  );

  const drained = await inFlight.drained(parts.drainTimeoutMs);
  if (!drained) log.warn({ in_flight: inFlight.count, waited_ms: parts.drainTimeoutMs }, 'lead requests still in flight at shutdown are cut');

  // Connections stay open after their last answer (keep-alive): close each once it is idle,
  // so an answer being written is never cut, and cut the rest after a short grace.
  const giveUpAt = Date.now() + (parts.connectionGraceMs ?? 1000);
  while (!serverClosed && Date.now() < giveUpAt) {
    server.closeIdleConnections?.();
    await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 25))]);
  }
  if (!serverClosed) {
    server.closeAllConnections?.();
    await closed;
  }

  await parts.close();
  return { drained };
}
