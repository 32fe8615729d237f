// What an auction allocates: V8's sampling heap profiler with the objects that young and old
// collections freed kept in (a retained-heap profile shows only what survives), over a slice of
// scenario a's load (10 buyers answering at once, direct post, 50 connections) after a warm-up.
// Allocation is what drives the scavenges, and unlike CPU per auction it hardly moves with the
// machine's noise, so it can weigh a change too small for `npm run bench` to see.
//   node load/allocation.ts [leadex|floor] [seconds=5] [top=30] [all|promoted]
// Prints KiB allocated per auction, then bytes per auction by module and by allocating function.
// `promoted` leaves out what the young generation's collections freed: what is left is what
// outlived its scavenges and reached the old generation (or was still alive at the end), the
// part of an auction's garbage that only a full collection takes back.
// The profile goes to load/results/prof/<server>-a-direct.allocation.heapprofile (.promoted.heapprofile
// with `promoted`).
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startFleet } from './buyer-fleet.ts';
import type { Child } from './child.ts';
import { drive } from './driver.ts';
import { startFloor } from './floor-server.ts';
import { attachInspector, INSPECT_ARGS } from './inspector.ts';
import { startLeadex } from './leadex-server.ts';
import { label, moduleOf, type HeapNode } from './profile.ts';

const server = process.argv[2] ?? 'leadex';
const seconds = Number(process.argv[3] ?? 5);
const top = Number(process.argv[4] ?? 30);
const keep = process.argv[5] ?? 'all';
if ((server !== 'leadex' && server !== 'floor') || (keep !== 'all' && keep !== 'promoted')) {
  throw new Error(`usage: node load/allocation.ts [leadex|floor] [seconds] [top] [all|promoted]`);
}
const WARMUP_S = 10;
// Fine enough that a site allocating a few hundred bytes per auction shows; coarse enough to keep
// the profiler's own cost out of the way.
const SAMPLING_INTERVAL = 4096;

const fleet = await startFleet({ buyers: 10 });
let target: { child: Child; url: string; apiKey: string; stop(): Promise<unknown> };
if (server === 'leadex') {
  const leadex = await startLeadex({ buyers: fleet.buyers, label: 'allocation', nodeArgs: INSPECT_ARGS });
  target = { child: leadex.child, url: leadex.url, apiKey: leadex.apiKey, stop: async () => (await leadex.stop(), await leadex.drop()) };
} else {
  const floor = await startFloor(fleet, INSPECT_ARGS);
  target = { child: floor.child, url: floor.url, apiKey: 'none', stop: () => floor.child.stop() };
}
try {
  const inspector = await attachInspector(target.child);
  await drive({ url: target.url, apiKey: target.apiKey, mode: 'direct', connections: 50, durationS: WARMUP_S });
  await inspector.send('HeapProfiler.enable');
  await inspector.send('HeapProfiler.startSampling', {
    samplingInterval: SAMPLING_INTERVAL,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: keep === 'all',
  });
  const result = await drive({ url: target.url, apiKey: target.apiKey, mode: 'direct', connections: 50, durationS: seconds });
  const { profile } = (await inspector.send('HeapProfiler.stopSampling')) as { profile: { head: HeapNode } };
  inspector.close();
  if (result.errors.total > 0) throw new Error(`${result.errors.total} errors in ${result.auctions} auctions`);

  const dir = fileURLToPath(new URL('results/prof/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}${server}-a-direct.${keep === 'all' ? 'allocation' : 'promoted'}.heapprofile`, JSON.stringify(profile));

  const byModule = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  const visit = (node: HeapNode) => {
    const module = moduleOf(node.callFrame);
    byModule.set(module, (byModule.get(module) ?? 0) + node.selfSize);
    const fn = label(node.callFrame);
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + node.selfSize);
    total += node.selfSize;
    for (const child of node.children ?? []) visit(child);
  };
  visit(profile.head);
  const perAuction = (bytes: number) => bytes / Math.max(1, result.auctions);
  console.log(`${server}: ${result.auctions} auctions in ${seconds} s, ${(perAuction(total) / 1024).toFixed(1)} KiB ${keep === 'all' ? 'allocated' : 'promoted (or still alive)'} per auction`);
  for (const [title, map] of [['by module', byModule], ['by allocating function', byFunction]] as const) {
    console.log(`  bytes per auction ${title}:`);
    for (const [name, bytes] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${perAuction(bytes).toFixed(0).padStart(8)}  ${name}`);
  }
} finally {
  await target.stop();
  await fleet.stop();
}
