// Profiling a child process over the inspector protocol, for exactly the measured window (not
// start-up, not warm-up): the child runs with --inspect=127.0.0.1:0, the bench connects to the
// WebSocket it prints on stderr and starts / stops V8's sampling profiler.
import { writeFileSync } from 'node:fs';
import type { Child } from './child.ts';

export const INSPECT_ARGS = ['--inspect=127.0.0.1:0'];

export interface Profiler {
  start(): Promise<void>;
  /** Stops, writes the .cpuprofile to `file`, and returns the file name. */
  stop(file: string): Promise<string>;
  close(): void;
}

export async function attachProfiler(child: Child, samplingIntervalUs = 500): Promise<Profiler> {
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
  const send = (method: string, params: Record<string, unknown> = {}): Promise<any> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      socket.send(JSON.stringify({ id, method, params }));
    });

  await send('Profiler.enable');
  await send('Profiler.setSamplingInterval', { interval: samplingIntervalUs });
  // --inspect does not pause; nothing to resume.
  return {
    start: () => send('Profiler.start'),
    async stop(file) {
      const result = (await send('Profiler.stop')) as { profile: unknown };
      writeFileSync(file, JSON.stringify(result.profile));
      return file;
    },
    close: () => socket.close(),
  };
}
