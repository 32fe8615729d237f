// How long the disk takes to make a small write durable, as Postgres does at each commit: write
// 8 KiB, fdatasync, 250 times a second. Run it on an idle machine, in the directory on the disk
// Postgres writes its WAL to, to tell the disk's stalls from the exchange's:
//   node load/disk-probe.ts [seconds=20] [directory=/var/lib/postgresql]
import { closeSync, fdatasyncSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const seconds = Number(process.argv[2] ?? 20);
const directory = process.argv[3] ?? '/var/lib/postgresql';
const file = join(directory, `leadex-disk-probe-${process.pid}`);
const page = Buffer.alloc(8192, 1);
const waits: number[] = [];

const fd = openSync(file, 'w', 0o600);
try {
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    writeSync(fd, page, 0, page.length, 0);
    const started = performance.now();
    fdatasyncSync(fd);
    waits.push(performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 4));
  }
} finally {
  closeSync(fd);
  unlinkSync(file);
}

waits.sort((a, b) => a - b);
const at = (q: number) => waits[Math.min(waits.length - 1, Math.floor(q * waits.length))]!.toFixed(2);
const over = (ms: number) => waits.filter((w) => w > ms).length;
console.log(
  `${waits.length} fdatasyncs of 8 KiB in ${directory}: p50 ${at(0.5)} p99 ${at(0.99)} p99.9 ${at(0.999)} max ${at(1)} ms; ` +
    `${over(25)} took > 25 ms, ${over(100)} > 100 ms`,
);
