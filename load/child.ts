// Child processes of the bench (buyer fleet, floor, leadex, load driver): started with `node`,
// each talks back over stdout JSON lines (the driver takes its commands on stdin); stop() is
// SIGTERM, then SIGKILL if it lingers.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface Child {
  readonly pid: number;
  readonly process: ChildProcess;
  /** Last lines of stdout and stderr, for diagnostics. */
  readonly tail: string[];
  /** Resolves with the first stdout JSON line whose `event` is the given one. */
  waitFor(event: string, timeoutMs?: number): Promise<Record<string, any>>;
  /** Resolves with the first match of `pattern` in a stderr line (e.g. the inspector URL). */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Every stdout line that parsed as JSON, e.g. pino log records. */
  readonly jsonLines: Array<Record<string, any>>;
  readonly exited: Promise<number | null>;
  /** SIGTERM (then SIGKILL after `graceMs`) and wait for the exit. */
  stop(graceMs?: number): Promise<number | null>;
}

export interface SpawnOptions {
  script: string;
  args?: string[];
  nodeArgs?: string[];
  env?: Record<string, string>;
  cwd?: string;
  /** Prefix for echoing the child's stderr, and its stdout lines that are not JSON, to ours (undefined: stay quiet). */
  echo?: string;
  /** Keep JSON lines (default true); the fleet prints only a few. */
  keepJson?: boolean;
  /** Give the child a stdin pipe (`child.process.stdin`) instead of none. */
  stdin?: boolean;
}

const TAIL = 50;

/**
 * Node/V8 flags from an environment variable (`BENCH_LEADEX_NODE_ARGS`, `BENCH_FLOOR_NODE_ARGS`),
 * split on spaces; `fallback` when it is not set at all (set and empty means no flags).
 */
export function flagsFromEnv(name: string, fallback: string[] = []): string[] {
  return process.env[name]?.split(/\s+/).filter(Boolean) ?? fallback;
}

/**
 * For the bench's stand-ins for other machines (the driver, the fleet): a young generation of 2
 * MiB, collected on the main thread alone. With V8's default, tens of MiB on this host, their
 * scavenges took 20-54 ms waiting for helper threads on two busy cores, and held every auction
 * they were part of; small ones take 1-2 ms (load/FINDINGS.md, "The driver's own late starts").
 */
export const SHORT_PAUSES = ['--max-semi-space-size=2', '--single-threaded-gc'];

export function spawnNode(options: SpawnOptions): Child {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), options.script, ...(options.args ?? [])], {
    cwd: options.cwd ?? process.cwd(),
    env: { ...process.env, ...options.env },
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not start ${options.script}`);
  const tail: string[] = [];
  const jsonLines: Array<Record<string, any>> = [];
  const waiters = new Map<string, Array<(line: Record<string, any>) => void>>();
  const seen = new Map<string, Record<string, any>>();
  const remember = (line: string) => {
    tail.push(line);
    if (tail.length > TAIL) tail.shift();
  };

  createInterface({ input: child.stdout! }).on('line', (line) => {
    remember(line);
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      if (options.echo !== undefined) process.stderr.write(`${options.echo} ${line}\n`);
      return;
    }
    if (typeof parsed !== 'object' || parsed === null) return;
    const record = parsed as Record<string, any>;
    if (options.keepJson !== false && jsonLines.length < 10_000) jsonLines.push(record);
    if (typeof record.event === 'string') {
      seen.set(record.event, record);
      for (const resolve of waiters.get(record.event) ?? []) resolve(record);
      waiters.delete(record.event);
    }
  });
  const stderrWatchers = new Set<(line: string) => void>();
  createInterface({ input: child.stderr! }).on('line', (line) => {
    remember(line);
    for (const watch of stderrWatchers) watch(line);
    if (options.echo !== undefined) process.stderr.write(`${options.echo} ${line}\n`);
  });

  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code, signal) => {
      exitCode = code ?? (signal ? null : 0);
      resolve(exitCode);
    });
  });

  const describe = () => `${options.script} (pid ${child.pid})\n--- last output ---\n${tail.join('\n')}`;

  return {
    pid: child.pid,
    process: child,
    tail,
    jsonLines,
    exited,
    waitFor(event, timeoutMs = 30_000) {
      const already = seen.get(event);
      if (already) return Promise.resolve(already);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no '${event}' from ${describe()}`)), timeoutMs);
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`exited with ${code} before '${event}': ${describe()}`));
        });
        const list = waiters.get(event) ?? [];
        list.push((line) => {
          clearTimeout(timer);
          resolve(line);
        });
        waiters.set(event, list);
      });
    },
    waitForStderr(pattern, timeoutMs = 30_000) {
      const already = tail.map((line) => pattern.exec(line)).find((m) => m !== null);
      if (already) return Promise.resolve(already);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          stderrWatchers.delete(watch);
          reject(new Error(`no ${pattern} on stderr of ${describe()}`));
        }, timeoutMs);
        const watch = (line: string) => {
          const match = pattern.exec(line);
          if (!match) return;
          clearTimeout(timer);
          stderrWatchers.delete(watch);
          resolve(match);
        };
        stderrWatchers.add(watch);
      });
    },
    async stop(graceMs = 10_000) {
      if (exitCode !== undefined) return exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** A free loopback port (bound and released: a tiny race that does not matter on a bench box). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
