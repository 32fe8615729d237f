// Summarises a V8 .cpuprofile (node --cpu-prof): where the CPU went, by function (self time),
// by module (src file, npm package, node internals, GC) and inclusive time of leadex's own
// functions. CLI: `node load/profile.ts <file.cpuprofile> [top]`.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  /** Non-idle sampled time. */
  busyMs: number;
  selfByFunction: ProfileEntry[];
  selfByModule: ProfileEntry[];
  /** Inclusive time of functions in src/ (leadex's own code), recursion counted once. */
  inclusiveSrc: ProfileEntry[];
}

/** Checkouts whose paths are shown relative ("src/exchange/bidding.ts"). */
const ROOTS = [fileURLToPath(new URL('..', import.meta.url)), process.env.BENCH_LEADEX_ROOT]
  .filter((root): root is string => typeof root === 'string' && root !== '')
  .map((root) => (root.endsWith('/') ? root : `${root}/`));

function shortUrl(url: string): string {
  if (url === '') return '';
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  for (const root of ROOTS) if (path.startsWith(root)) return path.slice(root.length);
  return path;
}

/** Which module a frame belongs to: "src/exchange/bidding.ts", "npm:zod", "node:internal/...", "(gc)". */
function moduleOf(frame: ProfileNode['callFrame']): string {
  const url = shortUrl(frame.url);
  if (url === '') return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return `npm:${rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (url.startsWith('node:')) {
    // node:internal/http_parser ... keep two levels
    return url.split('/').slice(0, 2).join('/');
  }
  return url;
}

function label(frame: ProfileNode['callFrame']): string {
  const name = frame.functionName || '(anonymous)';
  const url = shortUrl(frame.url);
  if (url === '') return name;
  const file = url.includes('node_modules/') ? url.slice(url.lastIndexOf('node_modules/') + 13) : url;
  return `${name} ${file}:${frame.lineNumber + 1}`;
}

export function summariseProfile(file: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }

  const selfFn = new Map<string, number>();
  const selfModule = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    // timeDeltas[i] is the time before sample i; attribute the next delta to this sample.
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const node = byId.get(profile.samples[i]!);
    if (!node) continue;
    total += ms;
    const frame = node.callFrame;
    if (frame.functionName === '(idle)') {
      idle += ms;
      continue;
    }
    const fn = label(frame);
    selfFn.set(fn, (selfFn.get(fn) ?? 0) + ms);
    const mod = moduleOf(frame);
    selfModule.set(mod, (selfModule.get(mod) ?? 0) + ms);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const f = byId.get(id)!.callFrame;
      if (!shortUrl(f.url).startsWith('src/')) continue;
      const key = label(f);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + ms);
    }
  }
  const busy = total - idle;
  const rank = (map: Map<string, number>, n: number): ProfileEntry[] =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, ms]) => ({ name, ms: Math.round(ms), share: busy > 0 ? ms / busy : 0 }));
  return {
    file,
    totalMs: Math.round(total),
    busyMs: Math.round(busy),
    selfByFunction: rank(selfFn, top),
    selfByModule: rank(selfModule, top),
    inclusiveSrc: rank(inclusive, top),
  };
}

export function formatProfile(summary: ProfileSummary): string {
  const lines: string[] = [];
  const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)}%`;
  lines.push(`profile ${shortUrl(summary.file)}: ${summary.busyMs} ms busy of ${summary.totalMs} ms sampled`);
  lines.push('  self time by module:');
  for (const e of summary.selfByModule.slice(0, 15)) lines.push(`    ${pct(e.share)} ${String(e.ms).padStart(7)} ms  ${e.name}`);
  lines.push('  self time by function:');
  for (const e of summary.selfByFunction) lines.push(`    ${pct(e.share)} ${String(e.ms).padStart(7)} ms  ${e.name}`);
  lines.push("  inclusive time of leadex's own functions (src/):");
  for (const e of summary.inclusiveSrc) lines.push(`    ${pct(e.share)} ${String(e.ms).padStart(7)} ms  ${e.name}`);
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node load/profile.ts <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  process.stdout.write(`${formatProfile(summariseProfile(file, Number(process.argv[3] ?? 25)))}\n`);
}
