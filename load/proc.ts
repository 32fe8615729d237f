// Reading a process's CPU time and memory from /proc (Linux only): what the bench charges to
// the exchange, measured from outside so the measurement costs the exchange nothing.
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second for /proc/<pid>/stat; 100 on every mainstream Linux (getconf CLK_TCK). */
const CLK_TCK = Number(process.env.CLK_TCK ?? 100);

/** User + system CPU time of a process, in milliseconds; 0 if it is gone. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state), so utime (14) and stime (15) are at 11 and 12.
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1000) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** Resident set size in MiB (VmRSS), or NaN if the process is gone. */
export function rssMiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/**
 * Summed CPU ms of every process whose command name is one of `names` (e.g. postgres and
 * redis-server). Machine-wide: anything else using those services during a run is counted too.
 */
export function cpuMsByName(names: readonly string[]): number {
  let total = 0;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return 0;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let comm: string;
    try {
      comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    if (names.includes(comm)) total += cpuMs(Number(entry));
  }
  return total;
}

/** Total busy and idle CPU ms of the whole machine, from /proc/stat. */
export function machineCpuMs(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const values = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (values[3] ?? 0) + (values[4] ?? 0);
    const total = values.reduce((a, b) => a + b, 0);
    return { busy: ((total - idle) * 1000) / CLK_TCK, total: (total * 1000) / CLK_TCK };
  } catch {
    return { busy: 0, total: 0 };
  }
}
