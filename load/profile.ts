// Summarises a V8 .cpuprofile (node --cpu-prof): where the CPU went, by function (self time),
// by module (src file, npm package, node internals, GC) and inclusive time of leadex's own
// functions; and a sampling heap profile (what stayed alive, by allocation site).
// CLI: `node load/profile.ts <file.cpuprofile | file.heapprofile> [top]`.
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
  /** Self time by whose code ran (ownerOf), every owner listed. */
  selfByOwner: ProfileEntry[];
  /** Inclusive time of functions in src/ (leadex's own code), recursion counted once. */
  inclusiveSrc: ProfileEntry[];
  /**
   * Every sample charged to the innermost src/ function on its stack, library and native time
   * included (what that leadex function costs, all in); samples with no src/ frame are charged
   * to the leaf's module ("outside src: npm:undici", "(garbage collector)"...).
   */
  bySrcCaller: ProfileEntry[];
  /** The same, by the innermost src/ function's file. */
  bySrcFile: ProfileEntry[];
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
export function moduleOf(frame: ProfileNode['callFrame']): string {
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

/**
 * Whose code a module is: the exchange's own (src/, or load/ for the floor), an npm package, Node's
 * internals, native code or the collector. How far a rewrite of the exchange's own code could go.
 */
export function ownerOf(module: string): string {
  if (module.startsWith('src/') || module.startsWith('load/')) return 'own code';
  if (module.startsWith('npm:')) return 'npm packages';
  if (module.startsWith('node:')) return 'Node internals';
  if (module === '(native)') return 'native';
  return module;
}

/** A frame as "name file:line", paths relative to the checkout. */
export function label(frame: ProfileNode['callFrame']): string {
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
  const selfOwner = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const bySrcCaller = new Map<string, number>();
  const bySrcFile = new Map<string, number>();
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
    const owner = ownerOf(mod);
    selfOwner.set(owner, (selfOwner.get(owner) ?? 0) + ms);
    const seen = new Set<string>();
    let caller: string | null = null;
    let callerFile: string | null = null;
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const f = byId.get(id)!.callFrame;
      const file = shortUrl(f.url);
      if (!file.startsWith('src/')) continue;
      const key = label(f);
      caller ??= key;
      callerFile ??= file;
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + ms);
    }
    const charged = caller ?? `outside src: ${mod}`;
    bySrcCaller.set(charged, (bySrcCaller.get(charged) ?? 0) + ms);
    const chargedFile = callerFile ?? `outside src: ${mod}`;
    bySrcFile.set(chargedFile, (bySrcFile.get(chargedFile) ?? 0) + ms);
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
    selfByOwner: rank(selfOwner, selfOwner.size),
    inclusiveSrc: rank(inclusive, top),
    bySrcCaller: rank(bySrcCaller, top),
    bySrcFile: rank(bySrcFile, top),
  };
}

export function formatProfile(summary: ProfileSummary): string {
  const lines: string[] = [];
  const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)}%`;
  lines.push(`profile ${shortUrl(summary.file)}: ${summary.busyMs} ms busy of ${summary.totalMs} ms sampled`);
  lines.push('  self time by owner:');
  for (const e of summary.selfByOwner) lines.push(`    ${pct(e.share)} ${String(e.ms).padStart(7)} ms  ${e.name}`);
  lines.push('  self time by module:');
  for (const e of summary.selfByModule.slice(0, 15)) lines.push(`    ${pct(e.share)} ${String(e.ms).padStart(7)} ms  ${e.name}`);
  lines.push('  self time by function:');
  for (const e of summary.selfByFunction) lines.push(`    ${pct(e.share)} ${String(e.ms).padStart(7)} ms  ${e.name}`);
  if (summary.inclusiveSrc.length > 0) {
    lines.push("  inclusive time of leadex's own functions (src/):");
    for (const e of summary.inclusiveSrc) lines.push(`    ${pct(e.share)} ${String(e.ms).padStart(7)} ms  ${e.name}`);
    lines.push('  all time charged to the file of the innermost src/ function on the stack (libraries and native included):');
    for (const e of summary.bySrcFile) lines.push(`    ${pct(e.share)} ${String(e.ms).padStart(7)} ms  ${e.name}`);
    lines.push('  all time charged to the innermost src/ function on the stack (libraries and native included):');
    for (const e of summary.bySrcCaller) lines.push(`    ${pct(e.share)} ${String(e.ms).padStart(7)} ms  ${e.name}`);
  }
  return lines.join('\n');
}

// ---- sampling heap profiles (what is still alive, by allocation site) -----------------------

export interface HeapNode {
  callFrame: ProfileNode['callFrame'];
  selfSize: number;
  children?: HeapNode[];
}

export interface HeapSummary {
  file: string;
  liveMiB: number;
  /** Live bytes by the innermost src/ function on the allocating stack (else the leaf's module). */
  bySrcCaller: ProfileEntry[];
  /** Live bytes by allocating function. */
  byFunction: ProfileEntry[];
}

/**
 * Summarises a sampling heap profile (HeapProfiler.getSamplingProfile after a full GC): memory
 * allocated since sampling started and still alive. "ms" in the entries is KiB here.
 */
export function summariseHeapProfile(file: string, top = 15): HeapSummary {
  const root = (JSON.parse(readFileSync(file, 'utf8')) as { head: HeapNode }).head;
  const bySrc = new Map<string, number>();
  const byFn = new Map<string, number>();
  let total = 0;
  const walk = (node: HeapNode, srcCaller: string | null) => {
    const file = shortUrl(node.callFrame.url);
    const caller = file.startsWith('src/') ? label(node.callFrame) : srcCaller;
    if (node.selfSize > 0) {
      total += node.selfSize;
      const key = caller ?? `outside src: ${moduleOf(node.callFrame)}`;
      bySrc.set(key, (bySrc.get(key) ?? 0) + node.selfSize);
      const fn = label(node.callFrame);
      byFn.set(fn, (byFn.get(fn) ?? 0) + node.selfSize);
    }
    for (const child of node.children ?? []) walk(child, caller);
  };
  walk(root, null);
  const rank = (map: Map<string, number>): ProfileEntry[] =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, bytes]) => ({ name, ms: Math.round(bytes / 1024), share: total > 0 ? bytes / total : 0 }));
  return { file, liveMiB: total / 1024 / 1024, bySrcCaller: rank(bySrc), byFunction: rank(byFn) };
}

export function formatHeapProfile(summary: HeapSummary): string {
  const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)}%`;
  const lines = [`heap ${shortUrl(summary.file)}: ${summary.liveMiB.toFixed(1)} MiB allocated since sampling began and still alive after a full GC`];
  lines.push('  by the innermost src/ function on the allocating stack:');
  for (const e of summary.bySrcCaller) lines.push(`    ${pct(e.share)} ${String(e.ms).padStart(7)} KiB  ${e.name}`);
  lines.push('  by allocating function:');
  for (const e of summary.byFunction) lines.push(`    ${pct(e.share)} ${String(e.ms).padStart(7)} KiB  ${e.name}`);
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node load/profile.ts <file.cpuprofile | file.heapprofile> [top]\n');
    process.exit(2);
  }
  const top = Number(process.argv[3] ?? 25);
  const text = file.endsWith('.heapprofile') ? formatHeapProfile(summariseHeapProfile(file, top)) : formatProfile(summariseProfile(file, top));
  process.stdout.write(`${text}\n`);
}
