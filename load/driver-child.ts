// The load driver in a process of its own. The bench process also samples /proc, talks to the
// inspectors and keeps every run's results; in one event loop with the driver, its work and its
// garbage collections delayed the driver's scheduled auctions, and an open-loop latency counts
// from the scheduled start, so those delays read as the exchange's. Here the driver's loop does
// nothing else: the bench sends it one drive at a time as a JSON line on stdin and reads the
// result back on stdout.
import { setPriority } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { flagsFromEnv, SHORT_PAUSES, spawnNode } from './child.ts';
import { drive, type DriveOptions, type DriveResult } from './driver.ts';

interface Command {
  n: number;
  options: DriveOptions;
}

async function runChild(): Promise<void> {
  // One drive at a time, in order: two at once would measure each other.
  let queue = Promise.resolve();
  createInterface({ input: process.stdin })
    .on('line', (line) => {
      const { n, options } = JSON.parse(line) as Command;
      queue = queue.then(async () => {
        try {
          const result = await drive(options, { onWindow: () => process.stdout.write(`${JSON.stringify({ event: `window:${n}` })}\n`) });
          process.stdout.write(`${JSON.stringify({ event: `driven:${n}`, result })}\n`);
        } catch (error) {
          process.stdout.write(`${JSON.stringify({ event: `driven:${n}`, error: String((error as Error).stack ?? error) })}\n`);
        }
      });
    })
    // The bench closing our stdin (or dying) ends the driver once its last drive has answered.
    .on('close', () => void queue.then(() => process.exit(0)));
  process.stdout.write(`${JSON.stringify({ event: 'ready' })}\n`);
}

// ---- the parent's handle ---------------------------------------------------------------------

export interface DriverProcess {
  readonly pid: number;
  /** `onWindow` is called as the measured window starts (after `options.leadInS`). */
  drive(options: DriveOptions, onWindow?: () => void): Promise<DriveResult>;
  stop(): Promise<void>;
}

/**
 * The driver stands for affiliates on other machines; on this one it shares two cores with the
 * exchange, its services and the fleet, and a start it makes late counts against the exchange.
 * A higher scheduling priority lets it start on time (it needs a tenth of a core at 200
 * auctions/s). `BENCH_DRIVER_NICE` sets another niceness, 0 for none. Lowering niceness takes
 * root (or CAP_SYS_NICE); without it the driver runs as before and the bench says so.
 */
function favour(pid: number): void {
  const nice = Number(process.env.BENCH_DRIVER_NICE ?? -10);
  if (nice === 0) return;
  try {
    setPriority(pid, nice);
  } catch (error) {
    process.stderr.write(`[bench] the driver keeps its priority (niceness ${nice} refused: ${(error as Error).message})\n`);
  }
}

/** `BENCH_DRIVER_NODE_ARGS`, when set (even empty), replaces the driver's Node flags (SHORT_PAUSES). */
export async function startDriver(): Promise<DriverProcess> {
  const child = spawnNode({
    script: fileURLToPath(import.meta.url),
    nodeArgs: flagsFromEnv('BENCH_DRIVER_NODE_ARGS', SHORT_PAUSES),
    stdin: true,
    echo: '[driver]',
    keepJson: false,
  });
  await child.waitFor('ready');
  favour(child.pid);
  let sent = 0;
  return {
    pid: child.pid,
    async drive(options, onWindow) {
      const n = ++sent;
      const answer = child.waitFor(`driven:${n}`, ((options.leadInS ?? 0) + options.durationS + 2 * (options.timeoutS ?? 10) + 60) * 1000);
      if (onWindow) void child.waitFor(`window:${n}`, ((options.leadInS ?? 0) + 60) * 1000).then(onWindow, () => {});
      child.process.stdin!.write(`${JSON.stringify({ n, options } satisfies Command)}\n`);
      const line = await answer;
      if (typeof line.error === 'string') throw new Error(`the driver failed: ${line.error}`);
      return line.result as DriveResult;
    },
    async stop() {
      child.process.stdin!.end();
      await child.stop();
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await runChild();
