// Reading a process's CPU time and memory from /proc (Linux only): what the bench charges to
// the exchange, measured from outside so the measurement costs the exchange nothing.
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second for /proc/<pid>/stat; 100 on every mainstream Linux (getconf CLK_TCK). */
const CLK_TCK = Number(process.env.CLK_TCK ?? 100);

/** User and system CPU time of a process, in milliseconds; zeros if it is gone. */
export function cpuTimes(pid: number): { user: number; sys: number } {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state), so utime (14) and stime (15) are at 11 and 12.
    return { user: (Number(fields[11]) * 1000) / CLK_TCK, sys: (Number(fields[12]) * 1000) / CLK_TCK };
  } catch {
    return { user: 0, sys: 0 };
  }
}

/** User + system CPU time of a process, in milliseconds; 0 if it is gone. */
export function cpuMs(pid: number): number {
  const { user, sys } = cpuTimes(pid);
  return user + sys;
}

export interface IoCounts {
  /** read-like and write-like system calls (sockets included). */
  syscr: number;
  syscw: number;
  /** bytes through those calls. */
  rchar: number;
  wchar: number;
}

/** /proc/<pid>/io: how many read and write system calls (and bytes) a process made. */
export function ioCounts(pid: number): IoCounts {
  try {
    const text = readFileSync(`/proc/${pid}/io`, 'utf8');
    const get = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
    return { syscr: get('syscr'), syscw: get('syscw'), rchar: get('rchar'), wchar: get('wchar') };
  } catch {
    return { syscr: 0, syscw: 0, rchar: 0, wchar: 0 };
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
 * CPU ms of every process whose command name is one of `names` (e.g. postgres and redis-server),
 * by pid. Machine-wide: anything else using those services during a run is counted too.
 */
export function cpuByName(names: readonly string[]): Map<number, number> {
  const result = new Map<number, number>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return result;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let comm: string;
    try {
      comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    if (names.includes(comm)) result.set(Number(entry), cpuMs(Number(entry)));
  }
  return result;
}

/**
 * CPU ms spent between two cpuByName snapshots: processes present in both count their
 * difference, new ones all of theirs; ones that exited in between are lost (an undercount).
 */
export function cpuDelta(before: Map<number, number>, after: Map<number, number>): number {
  let total = 0;
  for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0);
  return total;
}

/** Total busy and idle CPU ms of the whole machine, from /proc/stat. */
export function machineCpuMs(): { busy: number; total: number; steal: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const values = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (values[3] ?? 0) + (values[4] ?? 0);
    const total = values.reduce((a, b) => a + b, 0);
    // Steal: time the hypervisor gave our virtual CPUs to someone else while they had work.
    return { busy: ((total - idle) * 1000) / CLK_TCK, total: (total * 1000) / CLK_TCK, steal: ((values[7] ?? 0) * 1000) / CLK_TCK };
  } catch {
    return { busy: 0, total: 0, steal: 0 };
  }
}
