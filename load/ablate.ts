// What each part of leadex costs, and what leadex costs with all of them gone: the same leadex
// with parts switched off (load/ablation.patch, applied to a throwaway worktree of HEAD), every
// variant up at once beside one floor on one fleet, driven in turn, a slice each, round after
// round. Each round's floor slice is the ratio's denominator, so a machine that changes speed
// between rounds moves numerator and denominator together. Medians over rounds are printed.
// Scenario a's load: 10 buyers answering at once, direct post, 50 connections
// (ABLATE_MODE=two-phase drives a ping and its post instead).
//   node load/ablate.ts [rounds=4] [seconds per slice=5] [variants=baseline;audit;...;all]
// A variant is a comma-separated list of the parts named in the patch's header; 'baseline' is
// none of them, 'features' is audit,hmac,pii,breaker,phone, and 'all' adds redis and pg.
// A variant 'floor:<parts>' is instead a second floor that does the least I/O the rules ask
// (load/floor-io.ts: redis, record, seal; and sign, the HMAC of FLOOR_SIGN=1), e.g.
// 'floor:sign,redis,record,seal': what the required work costs with none of leadex's code.
// A variant 'at:<rev>' is leadex as of that commit (its own worktree, no patch), to weigh a change
// in paired rounds: "at:HEAD~1;at:HEAD" reads the change's saving in the "saved" column, which is
// against the first variant when there is no 'baseline'.
// A variant 'env:<NAME=value,...>' is HEAD's leadex with those settings (src/config/config.ts), to
// weigh a default before changing it: "baseline;env:EVENT_FLUSH_MS=200".
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFleet } from './buyer-fleet.ts';
import { drive } from './driver.ts';
import { startFloor } from './floor-server.ts';
import { cpuByName, cpuDelta, cpuMs } from './proc.ts';

const FEATURES = 'audit,hmac,pii,breaker,phone';
const NAMED: Record<string, string> = { baseline: '', features: FEATURES, all: `${FEATURES},redis,pg` };
const DEFAULT_VARIANTS = 'baseline;audit;hmac;pii;breaker;phone;redis;pg;features;all';

const rounds = Number(process.argv[2] ?? 4);
const sliceS = Number(process.argv[3] ?? 5);
const variants = (process.argv[4] ?? DEFAULT_VARIANTS).split(';').map((name) => ({ name, spec: name, ablate: NAMED[name] ?? name }));
const WARMUP_S = 10;
const MODE = process.env.ABLATE_MODE ?? 'direct';
if (MODE !== 'direct' && MODE !== 'two-phase') throw new Error(`ABLATE_MODE must be direct or two-phase, not ${MODE}`);
// postgres and redis-server processes, machine-wide: what a variant costs outside its own process.
const SERVICES = ['postgres', 'redis-server'];
// The same variant twice (an A/A run, to see the noise) is told apart by a suffix.
for (const [i, variant] of variants.entries()) {
  const earlier = variants.slice(0, i).filter((v) => v.spec === variant.spec).length;
  if (earlier > 0) variant.name = `${variant.name} #${earlier + 1}`;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** A throwaway worktree of `rev` that uses this checkout's node_modules; remove() takes it away. */
function worktreeOf(rev: string, prefix: string): { dir: string; remove(): Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  execFileSync('git', ['worktree', 'add', '--detach', '--force', dir, rev], { cwd: ROOT, stdio: 'ignore' });
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return {
    dir,
    remove: async () => {
      execFileSync('git', ['worktree', 'remove', '--force', dir], { cwd: ROOT, stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** 'EVENT_FLUSH_MS=200,EVENT_BATCH_SIZE=2000' as an environment. */
function settingsOf(list: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of list.split(',')) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(pair);
    if (!match) throw new Error(`env: variant wants NAME=value pairs, not ${pair}`);
    env[match[1]!] = match[2]!;
  }
  return env;
}

const { dir: tree, remove: removeTree } = worktreeOf('HEAD', 'leadex-ablate-');
const cleanups: Array<() => Promise<unknown>> = [removeTree];
try {
  // Only the variants that switch parts off need the patch: 'at:' and 'floor:' ones run as they are.
  const patched = variants.some((v) => !v.spec.startsWith('at:') && !v.spec.startsWith('floor:') && !v.spec.startsWith('env:'));
  try {
    if (patched) execFileSync('git', ['apply', join(ROOT, 'load/ablation.patch')], { cwd: tree, stdio: 'pipe' });
  } catch (error) {
    throw new Error(`load/ablation.patch no longer applies to HEAD; update it to the code it switches off:\n${String((error as { stderr?: Buffer }).stderr ?? error)}`);
  }
  // leadex-server.ts reads its checkout once, when loaded.
  process.env.BENCH_LEADEX_ROOT = tree;
  const { startLeadex, scratchDatabase, BENCH_REDIS_URL } = await import('./leadex-server.ts');

  const fleet = await startFleet({ buyers: 10 });
  cleanups.unshift(() => fleet.stop());
  const floor = await startFloor(fleet);
  cleanups.unshift(() => floor.child.stop());
  const servers = [{ name: 'floor', pid: floor.child.pid, url: floor.url, apiKey: 'none' }];
  for (const variant of variants) {
    if (variant.spec.startsWith('at:')) {
      const checkout = worktreeOf(variant.spec.slice('at:'.length), 'leadex-at-');
      cleanups.push(checkout.remove);
      const leadex = await startLeadex({ buyers: fleet.buyers, label: 'ablate_at', root: checkout.dir });
      cleanups.unshift(async () => {
        await leadex.stop();
        await leadex.drop();
      });
      servers.push({ name: variant.name, pid: leadex.pid, url: leadex.url, apiKey: leadex.apiKey });
      continue;
    }
    if (variant.spec.startsWith('floor:')) {
      const parts = variant.spec.slice('floor:'.length).split(',').filter(Boolean);
      const env: Record<string, string> = { FLOOR_IO: parts.filter((p) => p !== 'sign').join(','), FLOOR_SIGN: parts.includes('sign') ? '1' : '0' };
      if (parts.includes('record')) {
        const database = await scratchDatabase('floor_io');
        cleanups.unshift(() => database.drop());
        env.FLOOR_DATABASE_URL = database.url;
      }
      if (parts.includes('redis')) env.FLOOR_REDIS_URL = BENCH_REDIS_URL;
      const io = await startFloor(fleet, [], env);
      cleanups.unshift(() => io.child.stop());
      servers.push({ name: variant.name, pid: io.child.pid, url: io.url, apiKey: 'none' });
      continue;
    }
    const settings = variant.spec.startsWith('env:') ? settingsOf(variant.spec.slice('env:'.length)) : { ABLATE: variant.ablate };
    const leadex = await startLeadex({ buyers: fleet.buyers, label: `ablate_${variant.name}`.slice(0, 32), env: settings });
    cleanups.unshift(async () => {
      await leadex.stop();
      await leadex.drop();
    });
    servers.push({ name: variant.name, pid: leadex.pid, url: leadex.url, apiKey: leadex.apiKey });
  }
  const run = async (server: (typeof servers)[number], durationS: number) => {
    const before = cpuMs(server.pid);
    const servicesBefore = cpuByName(SERVICES);
    const result = await drive({ url: server.url, apiKey: server.apiKey, mode: MODE, connections: 50, durationS });
    if (result.errors.total > 0) throw new Error(`${server.name}: ${result.errors.total} errors in ${result.auctions} auctions`);
    const auctions = Math.max(1, result.auctions);
    return { cpu: (cpuMs(server.pid) - before) / auctions, services: cpuDelta(servicesBefore, cpuByName(SERVICES)) / auctions, perS: result.auctionsPerS };
  };
  for (const server of servers) await run(server, WARMUP_S);

  const seen = new Map<string, Array<{ cpu: number; services: number; perS: number; ratio: number; perSRatio: number }>>();
  for (let round = 0; round < rounds; round++) {
    let floorSlice = { cpu: NaN, services: NaN, perS: NaN };
    // The floor goes first (each round's denominator); the others take turns at each place in the
    // round, so none is always the one that runs after the machine has warmed to the round.
    const others = servers.slice(1);
    const turn = round % Math.max(1, others.length);
    for (const server of [servers[0]!, ...others.slice(turn), ...others.slice(0, turn)]) {
      const slice = await run(server, sliceS);
      if (server.name === 'floor') floorSlice = slice;
      const list = seen.get(server.name) ?? [];
      list.push({ ...slice, ratio: slice.cpu / floorSlice.cpu, perSRatio: slice.perS / floorSlice.perS });
      seen.set(server.name, list);
    }
    console.error(`[ablate] round ${round + 1} of ${rounds} done`);
  }

  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  };
  // Saved: each round's baseline slice minus the variant's, the median of those. A slice's CPU per
  // auction swings with whatever else the machine ran in it; pairs from one round share most of that.
  const baseline = seen.get('baseline') ?? seen.get(servers[1]!.name)!;
  console.log(`a ${MODE}, 10 buyers @0 ms, 50 connections; ${rounds} rounds of ${sliceS} s slices; medians over rounds (cpu: exchange ms per auction)`);
  console.log('variant (parts off)                          cpu  saved vs baseline  cheaper in  cpu × floor  auctions/s  ÷ floor  pg+redis   cpu × floor by round');
  for (const server of servers) {
    const list = seen.get(server.name)!;
    const cpu = median(list.map((s) => s.cpu));
    const label = server.name === 'floor' ? 'floor' : `${server.name}${NAMED[server.name] ? ` (${NAMED[server.name]})` : ''}`;
    const saved = server.name === 'floor' ? '' : median(list.map((s, round) => baseline[round]!.cpu - s.cpu)).toFixed(3);
    // How many rounds the variant's slice cost less than the baseline's: a saving that is real
    // shows in most of them, noise in about half.
    const cheaper = server.name === 'floor' || list === baseline ? '' : `${list.filter((s, round) => s.cpu < baseline[round]!.cpu).length} of ${list.length}`;
    const byRound = server.name === 'floor' ? list.map((s) => s.cpu.toFixed(2)).join(' ') : list.map((s) => s.ratio.toFixed(2)).join(' ');
    console.log(
      `${label.padEnd(42)} ${cpu.toFixed(3).padStart(6)}  ${saved.padStart(17)}  ${cheaper.padStart(10)}  ${median(list.map((s) => s.ratio)).toFixed(2).padStart(10)}×  ${median(list.map((s) => s.perS)).toFixed(0).padStart(10)}  ${(median(list.map((s) => s.perSRatio)) * 100).toFixed(0).padStart(6)} %  ${median(list.map((s) => s.services)).toFixed(3).padStart(8)}   ${byRound}`,
    );
  }
  console.log('  pg+redis: CPU ms per auction of every postgres and redis-server process on the machine during the slice');
  console.log('  the floor\'s "by round" column is its own cpu per auction in each round');
} finally {
  for (const cleanup of cleanups) await cleanup().catch((error) => console.error(`[ablate] cleanup: ${String(error)}`));
  rmSync(tree, { recursive: true, force: true });
}
