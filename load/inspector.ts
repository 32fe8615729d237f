// Looking inside a child process over the inspector protocol: the child runs with
// --inspect=127.0.0.1:0 and the bench connects to the WebSocket it prints on stderr. Used to
// CPU-profile exactly the measured window (not start-up, not warm-up), and to read heap usage
// (after a forced full GC) during the sustained run.
import { writeFileSync } from 'node:fs';
import type { Child } from './child.ts';

export const INSPECT_ARGS = ['--inspect=127.0.0.1:0'];

export interface Inspector {
  send(method: string, params?: Record<string, unknown>): Promise<any>;
  /** Evaluates an expression in the child and returns its (JSON-serialisable) value. */
  evaluate<T>(expression: string): Promise<T>;
  /** A full, blocking garbage collection in the child. */
  collectGarbage(): Promise<void>;
  close(): void;
}

export interface Profiler {
  start(): Promise<void>;
  /** Stops, writes the .cpuprofile to `file`, and returns the file name. */
  stop(file: string): Promise<string>;
  close(): void;
}

export async function attachInspector(child: Child): Promise<Inspector> {
  const match = await child.waitForStderr(/Debugger listening on (ws:\/\/\S+)/);
  const socket = new WebSocket(match[1]!);
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve(), { once: true });
    socket.addEventListener('error', () => reject(new Error('could not connect to the inspector')), { once: true });
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (value: any) => void; reject: (error: Error) => void }>();
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: { message: string } };
    if (message.id === undefined) return;
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.error) waiter?.reject(new Error(message.error.message));
    else waiter?.resolve(message.result);
  });
  socket.addEventListener('close', () => {
    for (const waiter of pending.values()) waiter.reject(new Error('inspector closed'));
    pending.clear();
  });
  const send = (method: string, params: Record<string, unknown> = {}): Promise<any> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      socket.send(JSON.stringify({ id, method, params }));
    });
  return {
    send,
    async evaluate<T>(expression: string): Promise<T> {
      const result = (await send('Runtime.evaluate', { expression, returnByValue: true })) as { result: { value: T }; exceptionDetails?: unknown };
      if (result.exceptionDetails) throw new Error(`evaluate failed: ${JSON.stringify(result.exceptionDetails)}`);
      return result.result.value;
    },
    async collectGarbage() {
      await send('HeapProfiler.collectGarbage');
    },
    close: () => socket.close(),
  };
}

export async function attachProfiler(child: Child, samplingIntervalUs = 500): Promise<Profiler> {
  return profilerOf(await attachInspector(child), samplingIntervalUs);
}

export async function profilerOf(inspector: Inspector, samplingIntervalUs = 500): Promise<Profiler> {
  await inspector.send('Profiler.enable');
  await inspector.send('Profiler.setSamplingInterval', { interval: samplingIntervalUs });
  return {
    start: () => inspector.send('Profiler.start'),
    async stop(file) {
      const result = (await inspector.send('Profiler.stop')) as { profile: unknown };
      writeFileSync(file, JSON.stringify(result.profile));
      return file;
    },
    close: () => inspector.close(),
  };
}
