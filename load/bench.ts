// `npm run bench`: leadex against the floor (load/floor.ts) on the same buyer fleet with the same
// load, for issue 5's targets. See load/README.md for what every number means.
//
// Settings come from flags or the environment (flag wins):
//   --duration / BENCH_DURATION_S          measured seconds per run            (5)
//   --rate-duration / BENCH_RATE_DURATION_S  measured seconds per run at an offered
//                                          rate (scenario b), where p99 is the target   (20)
//   --lead-in / BENCH_LEAD_IN_S            at an offered rate (open loop), unmeasured seconds of
//                                          the same load just before each measured run, 0 for none   (2)
//   --warmup / BENCH_WARMUP_S              unmeasured seconds before each mode's runs  (2)
//   --start-warmup / BENCH_START_WARMUP_S  unmeasured seconds before a scenario's first mode,
//                                          while both exchanges are fresh processes   (10)
//   --sustained / BENCH_SUSTAINED_S        sustained leadex run, 0 to skip     (60)
//   --sustained-warmup / BENCH_SUSTAINED_WARMUP_S   RSS baseline taken after this, or at
//                                          leadex's first major GC after it   (min(20, sustained/3))
//   --sustained-rate / BENCH_SUSTAINED_RATE offered auctions/s, 0 = max        (0)
//   --sustained-latency / BENCH_SUSTAINED_LATENCY  buyer latency               (lognormal:10,0.5,300)
//   --connections / BENCH_CONNECTIONS      affiliate connections               (50)
//   --rate / BENCH_RATE                    offered auctions/s in scenario b    (200)
//   --rate-driver / BENCH_RATE_DRIVER      autocannon | open                   (open)
//   --scenarios / BENCH_SCENARIOS          any of a,b,c; none for the sustained run alone   (a,b,c)
//   --modes / BENCH_MODES                  any of direct,two-phase             (direct,two-phase)
//   --fleet-procs / BENCH_FLEET_PROCS      buyer fleet processes               (1)
//   --no-bid-rate / BENCH_NO_BID_RATE      share of pings answered 204         (0.2)
//   --reject-rate / BENCH_POST_REJECT_RATE share of posts rejected             (0.05)
//   --profile / BENCH_PROFILE              a scenario (a|b|c|sustained) in which leadex and the
//                                          floor are CPU-profiled (inspector protocol) during
//                                          each measured run only; files under load/results/prof,
//                                          summaries printed
//   --out / BENCH_OUT                      results JSON                        (load/results/latest.json)
//   --repeat / BENCH_REPEAT                measured runs per scenario, mode and server, floor and
//                                          leadex alternating; the least disturbed repetition
//                                          (fewest CPU ms taken by other processes), both its
//                                          runs, is reported; a's and b's checks list them all (1)
//   --quiet-wait / BENCH_QUIET_WAIT_S      before each measured run, wait up to this long for
//   --quiet-busy / BENCH_QUIET_BUSY        the machine to be at most this busy   (20, 0.25)
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { describeLatency, parseLatency, startFleet, type Fleet, type FleetCounts, type Latency } from './buyer-fleet.ts';
import type { Child } from './child.ts';
import { startFloor } from './floor-server.ts';
import { attachInspector, attachProfiler, INSPECT_ARGS, profilerOf, type Profiler } from './inspector.ts';
import { startDriver, type DriverProcess } from './driver-child.ts';
import { directLead, LATE_MS, type DriveResult, type Mode, type RateDriver } from './driver.ts';
import { startLeadex, type Census, type Leadex } from './leadex-server.ts';
import { describeRecordWait, readBuckets, recordWait, type Buckets, type RecordWait } from './record-wait.ts';
import { cpuByName, cpuDelta, cpuMs, cpuTimes, ioCounts, machineCpuMs, rssMiB } from './proc.ts';
import { formatHeapProfile, formatProfile, summariseHeapProfile, summariseProfile, type HeapSummary, type ProfileSummary } from './profile.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));

// ---- settings ----------------------------------------------------------------------------------

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string' },
    'rate-duration': { type: 'string' },
    'lead-in': { type: 'string' },
    warmup: { type: 'string' },
    'start-warmup': { type: 'string' },
    sustained: { type: 'string' },
    'sustained-warmup': { type: 'string' },
    'sustained-rate': { type: 'string' },
    'sustained-latency': { type: 'string' },
    connections: { type: 'string' },
    rate: { type: 'string' },
    'rate-driver': { type: 'string' },
    scenarios: { type: 'string' },
    modes: { type: 'string' },
    'fleet-procs': { type: 'string' },
    'no-bid-rate': { type: 'string' },
    'reject-rate': { type: 'string' },
    profile: { type: 'string' },
    out: { type: 'string' },
    'quiet-wait': { type: 'string' },
    repeat: { type: 'string' },
    'quiet-busy': { type: 'string' },
  },
  allowPositionals: false,
});

const setting = (flag: keyof typeof flags, env: string, fallback: string): string => {
  const value = flags[flag] ?? process.env[env];
  return value === undefined || value === '' ? fallback : String(value);
};
const num = (flag: keyof typeof flags, env: string, fallback: number): number => {
  const value = Number(setting(flag, env, String(fallback)));
  if (!Number.isFinite(value) || value < 0) throw new Error(`${env} must be a number >= 0`);
  return value;
};

const sustainedS = num('sustained', 'BENCH_SUSTAINED_S', 60);
const settings = {
  durationS: num('duration', 'BENCH_DURATION_S', 5),
  // A p99 over 5 s at 200/s is the 10th-slowest of 1000 auctions: whether one full GC cycle of
  // either exchange (every ~10 s, pausing the ~10 auctions in flight) falls in the window decides
  // it, so runs swung by 20 ms. 20 s gives 4000 auctions and takes the cycles in as they come.
  rateDurationS: num('rate-duration', 'BENCH_RATE_DURATION_S', 20),
  leadInS: num('lead-in', 'BENCH_LEAD_IN_S', 2),
  warmupS: num('warmup', 'BENCH_WARMUP_S', 2),
  // A fresh process is not yet what it will be for the rest of its life: V8 still compiles and
  // re-compiles the hot path and sizes its heap. In 2 s slices from a cold start (load/warm-up.ts),
  // leadex took 4-6 ms CPU per auction in its third and fourth seconds and 2.5-3.1 from its tenth
  // on, the floor 1.8-2.0 and 1.1-1.6; a first run 2 s after start read 35 % above the one after
  // it (load/README.md, "Warm-up"). The first mode gets this long; later ones run on warm code.
  startWarmupS: num('start-warmup', 'BENCH_START_WARMUP_S', 10),
  sustainedS,
  sustainedWarmupS: num('sustained-warmup', 'BENCH_SUSTAINED_WARMUP_S', Math.min(20, Math.round(sustainedS / 3))),
  sustainedRate: num('sustained-rate', 'BENCH_SUSTAINED_RATE', 0),
  sustainedLatency: parseLatency(setting('sustained-latency', 'BENCH_SUSTAINED_LATENCY', 'lognormal:10,0.5,300')),
  connections: num('connections', 'BENCH_CONNECTIONS', 50),
  rate: num('rate', 'BENCH_RATE', 200),
  // An offered rate means arrivals spread over the second (see load/README.md, rate drivers).
  rateDriver: setting('rate-driver', 'BENCH_RATE_DRIVER', 'open') as RateDriver,
  scenarios: setting('scenarios', 'BENCH_SCENARIOS', 'a,b,c').split(',').map((s) => s.trim()).filter(Boolean),
  modes: setting('modes', 'BENCH_MODES', 'direct,two-phase').split(',').map((s) => s.trim()).filter(Boolean) as Mode[],
  fleetProcesses: num('fleet-procs', 'BENCH_FLEET_PROCS', 1),
  noBidRate: num('no-bid-rate', 'BENCH_NO_BID_RATE', 0.2),
  postRejectRate: num('reject-rate', 'BENCH_POST_REJECT_RATE', 0.05),
  profile: setting('profile', 'BENCH_PROFILE', ''),
  out: setting('out', 'BENCH_OUT', join(HERE, 'results', 'latest.json')),
  repeat: Math.max(1, Math.round(num('repeat', 'BENCH_REPEAT', 1))),
  quietWaitS: num('quiet-wait', 'BENCH_QUIET_WAIT_S', 20),
  quietBusy: num('quiet-busy', 'BENCH_QUIET_BUSY', 0.25),
};
if (settings.rateDriver !== 'autocannon' && settings.rateDriver !== 'open') throw new Error('BENCH_RATE_DRIVER is autocannon or open');
for (const mode of settings.modes) if (mode !== 'direct' && mode !== 'two-phase') throw new Error(`unknown mode ${mode}`);

interface Scenario {
  key: string;
  title: string;
  buyers: number;
  latency: Latency;
  /** Offered auctions/s; undefined = max throughput with `connections`. */
  rate?: number;
}

const SCENARIOS: Scenario[] = [
  { key: 'a', title: '10 buyers @0ms, max', buyers: 10, latency: { kind: 'fixed', ms: 0 } },
  { key: 'b', title: `10 buyers @50ms, ${settings.rate}/s`, buyers: 10, latency: { kind: 'fixed', ms: 50 }, rate: settings.rate },
  { key: 'c', title: '100 buyers @0ms, max', buyers: 100, latency: { kind: 'fixed', ms: 0 } },
];

// A mistyped name would otherwise match nothing and leave a run that measures less than asked.
const SCENARIO_KEYS = SCENARIOS.map((scenario) => scenario.key);
for (const scenario of settings.scenarios) {
  if (scenario !== 'none' && !SCENARIO_KEYS.includes(scenario)) throw new Error(`unknown scenario ${scenario}: ${SCENARIO_KEYS.join(', ')}, or none for the sustained run alone`);
}
if (settings.profile !== '' && settings.profile !== 'sustained' && !SCENARIO_KEYS.includes(settings.profile)) {
  throw new Error(`unknown profile ${settings.profile}: ${SCENARIO_KEYS.join(', ')} or sustained`);
}

// ---- measuring ---------------------------------------------------------------------------------

type Target = 'floor' | 'leadex';

const SERVICES = ['postgres', 'redis-server'];

interface Row {
  scenario: string;
  title: string;
  mode: Mode;
  target: Target;
  /** Which repetition this was (see BENCH_REPEAT). */
  rep: number;
  profiled: boolean;
  drive: DriveResult;
  /** Exchange process CPU, ms, over the measured run. */
  cpuMs: number;
  cpuMsPerAuction: number;
  /** postgres + redis-server processes (machine-wide), ms per auction. */
  servicesMsPerAuction: number;
  /** Fleet processes, ms per auction (context: is the fleet the bottleneck?). */
  fleetMsPerAuction: number;
  /** Whole machine busy share during the run. */
  machineBusy: number;
  /** The load driver's process (autocannon or the open loop), ms per auction. */
  driverMsPerAuction: number;
  /** Machine busy time not accounted for by exchange, services, fleet, driver or steal, ms per auction. */
  otherMsPerAuction: number;
  /** CPU time the hypervisor gave to other guests while this machine's CPUs had work, ms per auction. */
  stealMsPerAuction: number;
  rssMiB: number;
  soldShare: number;
  /** Exchange CPU split: user (JavaScript, parsing, crypto) and system (mostly loopback networking). */
  userMsPerAuction: number;
  sysMsPerAuction: number;
  /** Exchange read / write system calls and bytes written, per auction (/proc/<pid>/io). */
  readCallsPerAuction: number;
  writeCallsPerAuction: number;
  kibWrittenPerAuction: number;
  /** leadex only: how long its answers waited for the lead's durable commit (load/record-wait.ts). */
  record?: RecordWait;
}

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Server {
  target: Target;
  pid: number;
  url: string;
  apiKey: string;
  profiler: Profiler | null;
}

function loadFor(scenario: Scenario, server: Server, mode: Mode) {
  return {
    url: server.url,
    apiKey: server.apiKey,
    mode,
    connections: settings.connections,
    rateDriver: settings.rateDriver,
    ...(scenario.rate ? { rate: scenario.rate } : {}),
  };
}

/** One measured run (after the caller's warm-up); profiled when `profile` and a profiler exist. */
async function measure(scenario: Scenario, server: Server, mode: Mode, fleet: Fleet, rep: number, profile: boolean): Promise<Row> {
  const { target, pid } = server;
  const profiler = profile ? server.profiler : null;
  const fleetCpu = () => fleet.pids.reduce((sum, p) => sum + cpuMs(p), 0);
  await waitForQuiet();
  await profiler?.start();
  const snapshot = () => ({
    cpu: cpuTimes(pid),
    io: ioCounts(pid),
    svc: cpuByName(SERVICES),
    fleet: fleetCpu(),
    machine: machineCpuMs(),
    driver: cpuMs(driver.pid),
  });
  const load = { ...loadFor(scenario, server, mode), durationS: scenario.rate ? settings.rateDurationS : settings.durationS };
  let before: ReturnType<typeof snapshot>;
  let recordBefore: Promise<Buckets> | null;
  let result: DriveResult;
  if (scenario.rate && settings.rateDriver === 'open' && settings.leadInS > 0) {
    // The measured window starts after a lead-in of the same load, with no gap: a run's first
    // second is then not also the exchange's first second after sitting idle through the other
    // exchange's run (load/FINDINGS.md, "The first second after idle"). The counters are read
    // as the window opens; what the lead-in's auctions answered is dropped, as the warm-up's is.
    // autocannon's rate driver has no lead-in.
    let opened: { before: ReturnType<typeof snapshot>; record: Promise<Buckets> | null } | undefined;
    result = await driver.drive({ ...load, leadInS: settings.leadInS }, () => {
      opened = { before: snapshot(), record: target === 'leadex' ? readBuckets(server.url) : null };
    });
    if (opened === undefined) throw new Error('the driver never said its measured window had opened');
    ({ before, record: recordBefore } = opened);
  } else {
    recordBefore = target === 'leadex' ? readBuckets(server.url) : null;
    await recordBefore;
    before = snapshot();
    result = await driver.drive(load);
  }
  // Let trailing work of the measured auctions (audit flushes) land in the window.
  await sleep(250);
  const driverMs = cpuMs(driver.pid) - before.driver;
  const after = { cpu: cpuTimes(pid), io: ioCounts(pid), svc: cpuByName(SERVICES), fleet: fleetCpu(), machine: machineCpuMs() };
  const cpu = after.cpu.user + after.cpu.sys - before.cpu.user - before.cpu.sys;
  const record = recordBefore === null ? undefined : recordWait(await recordBefore, await readBuckets(server.url));
  if (profiler) {
    const file = await profiler.stop(join(PROFILE_DIR, `${target}-${scenario.key}-${mode}.cpuprofile`));
    profiles.push({ scenario: scenario.key, mode, target, summary: summariseProfile(file, 25) });
  }
  const auctions = Math.max(1, result.auctions);
  const sold = result.outcomes.sold ?? 0;
  const row: Row = {
    scenario: scenario.key,
    title: scenario.title,
    mode,
    target,
    rep,
    profiled: profiler !== null,
    drive: result,
    cpuMs: cpu,
    cpuMsPerAuction: cpu / auctions,
    servicesMsPerAuction: cpuDelta(before.svc, after.svc) / auctions,
    fleetMsPerAuction: (after.fleet - before.fleet) / auctions,
    machineBusy: (after.machine.busy - before.machine.busy) / Math.max(1, after.machine.total - before.machine.total),
    driverMsPerAuction: driverMs / auctions,
    otherMsPerAuction: 0,
    stealMsPerAuction: (after.machine.steal - before.machine.steal) / auctions,
    rssMiB: rssMiB(pid),
    soldShare: result.auctions > 0 ? sold / result.auctions : 0,
    userMsPerAuction: (after.cpu.user - before.cpu.user) / auctions,
    sysMsPerAuction: (after.cpu.sys - before.cpu.sys) / auctions,
    readCallsPerAuction: (after.io.syscr - before.io.syscr) / auctions,
    writeCallsPerAuction: (after.io.syscw - before.io.syscw) / auctions,
    kibWrittenPerAuction: (after.io.wchar - before.io.wchar) / 1024 / auctions,
    ...(record ? { record } : {}),
  };
  // Busy time of the machine nobody in the bench accounts for: other users of the box.
  row.otherMsPerAuction =
    (after.machine.busy - before.machine.busy) / auctions - row.cpuMsPerAuction - row.servicesMsPerAuction - row.fleetMsPerAuction - row.driverMsPerAuction - row.stealMsPerAuction;
  log(
    `${scenario.key} ${mode.padEnd(9)} ${target.padEnd(6)} #${rep} ${result.auctionsPerS.toFixed(0)} auctions/s, p50 ${result.latency.p50.toFixed(1)} p99 ${result.latency.p99.toFixed(1)} ms, ` +
      `cpu ${row.cpuMsPerAuction.toFixed(3)} ms/auction, errors ${result.errors.total}, other ${row.otherMsPerAuction.toFixed(2)} steal ${row.stealMsPerAuction.toFixed(2)} ms/auction, outcomes ${JSON.stringify(result.outcomes)}`,
  );
  if (result.phases) {
    const { ping, post } = result.phases;
    log(`  phases: ping p50 ${ping.p50.toFixed(1)} p99 ${ping.p99.toFixed(1)} ms, post p50 ${post.p50.toFixed(1)} p99 ${post.p99.toFixed(1)} ms`);
  }
  if (scenario.rate) log(`  tail: ${describeTail(result)}`);
  if (record) log(`  ${describeRecordWait(record)}`);
  if (result.errors.total > 0) log(`  errors: ${JSON.stringify(result.errors.byStatus)} conn ${result.errors.connection} timeouts ${result.errors.timeouts} ${result.errors.samples.join(' | ')}`);
  return row;
}

/**
 * Whether a rate run's p99 is one bad second or the whole run, and how much of it the driver's
 * own late starts make (load/README.md, "The numbers").
 */
function describeTail({ tail, late }: DriveResult): string {
  return (
    `${tail.inWorstSecond} of the ${tail.slowest} auctions at or above the p99 started in second ${tail.worstSecond}` +
    `${tail.worstSecondAt ? ` (${tail.worstSecondAt})` : ''}; p99 of the other seconds ${tail.p99WithoutWorstSecond.toFixed(1)} ms` +
    (late ? `; the driver started ${late.count} auctions ${LATE_MS} ms or more late (${late.inSlowest} of the slowest), the latest by ${late.maxMs.toFixed(1)} ms` : '')
  );
}

/**
 * Other users of the machine (test suites, compilers) skew every number: before a measured run,
 * wait (bounded) until the machine is mostly idle. Runs that were disturbed anyway are flagged.
 */
async function waitForQuiet(): Promise<void> {
  const giveUp = performance.now() + settings.quietWaitS * 1000;
  let waited = false;
  for (;;) {
    const a = machineCpuMs();
    await sleep(500);
    const b = machineCpuMs();
    const busy = (b.busy - a.busy) / Math.max(1, b.total - a.total);
    if (busy <= settings.quietBusy || performance.now() >= giveUp) {
      if (waited) log(`machine ${busy <= settings.quietBusy ? 'quiet' : 'still busy'} (${(busy * 100).toFixed(0)}% busy)`);
      return;
    }
    if (!waited) log(`machine ${(busy * 100).toFixed(0)}% busy before a run: waiting up to ${settings.quietWaitS} s for quiet`);
    waited = true;
  }
}

/** One direct lead through fetch: what the exchange answers (verifies it sells at all). */
async function sanityLead(url: string, apiKey: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}/v1/leads`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: directLead(),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // keep text
  }
  return { status: response.status, body };
}

const PROFILE_DIR = join(HERE, 'results', 'prof');

interface AuditCheck {
  scenario: string;
  pingsReceived: number;
  pingedEvents: number;
  /** Pings a buyer received for which no campaign.pinged event exists (must be 0). */
  missingEvents: number;
  missingSamples: string[];
  /** campaign.pinged events for pings no buyer received (breaker open, deadline passed in a queue). */
  eventsWithoutPing: number;
  census: Census;
  exitCode: number | null;
  warnings: string[];
}

function warningsOf(leadex: Leadex): string[] {
  return leadex.warnings().slice(0, 5).map((w) => `${w.msg ?? ''} ${w.err?.message ?? ''}`.trim());
}

async function stopAndAudit(scenarioKey: string, leadex: Leadex, fleet: Fleet): Promise<AuditCheck> {
  await sleep(1000);
  const counts: FleetCounts = await fleet.counts();
  const received = await fleet.pingIds();
  const exitCode = await leadex.stop();
  const census = await leadex.census();
  const evented = await leadex.pingedKeys();
  const receivedKeys = new Set<string>();
  const missing: string[] = [];
  received.forEach((ids, index) => {
    for (const id of ids) {
      const key = `${id} ${leadex.campaignIds[index]}`;
      receivedKeys.add(key);
      if (!evented.has(key)) missing.push(key);
    }
  });
  let eventsWithoutPing = 0;
  for (const key of evented) if (!receivedKeys.has(key)) eventsWithoutPing++;
  const check: AuditCheck = {
    scenario: scenarioKey,
    // Plain /ping requests: leadex's (the floor's carry a query string).
    pingsReceived: counts.total.pings,
    pingedEvents: census.events['campaign.pinged'] ?? 0,
    missingEvents: missing.length,
    missingSamples: missing.slice(0, 5),
    eventsWithoutPing,
    census,
    exitCode,
    warnings: warningsOf(leadex),
  };
  log(
    `${scenarioKey} leadex audit: fleet received ${check.pingsReceived} pings, ${check.pingedEvents} campaign.pinged events, ` +
      `${check.missingEvents} received pings without an event, ${eventsWithoutPing} events without a received ping (exit ${exitCode})`,
  );
  return check;
}

// ---- scenarios ---------------------------------------------------------------------------------

/** The reported runs per scenario and mode: both exchanges' runs of the least disturbed repetition. */
const rows: Row[] = [];
/** Every measured run. */
const allRuns: Row[] = [];
const audits: AuditCheck[] = [];
const sanity: Array<{ scenario: string; target: Target; status: number; body: unknown }> = [];
const profiles: Array<{ scenario: string; mode: Mode; target: Target; summary: ProfileSummary }> = [];

/** CPU ms per auction the run lost to other processes and to other guests of the host. */
const disturbance = (r: Row): number => r.otherMsPerAuction + r.stealMsPerAuction;

/**
 * The least disturbed repetition of a mode: the one whose two runs, back to back, the fewest
 * foreign CPU ms a second hit. Its floor and leadex runs are reported together. Choosing each
 * exchange's least disturbed run on its own could set a floor run against a leadex run of
 * another repetition, up to a minute apart, and the host's speed moves by more than that
 * measures: on 2026-12-08 a floor's two runs of one mode differed by 27 % in auctions/s with the
 * same foreign CPU, and pairing its slower run with leadex's faster one read 58 % where either
 * repetition alone read 57 % and 46 % (load/FINDINGS.md, "Runs reported in pairs").
 */
function leastDisturbedRepetition(runs: Row[]): Row[] {
  const foreignMsPerS = (rep: number) =>
    runs.filter((r) => r.rep === rep).reduce((sum, r) => sum + disturbance(r) * r.drive.auctionsPerS, 0);
  const best = runs.map((r) => r.rep).reduce((a, b) => (foreignMsPerS(b) < foreignMsPerS(a) ? b : a));
  return runs.filter((r) => r.rep === best);
}

async function runScenario(scenario: Scenario): Promise<void> {
  log(`scenario ${scenario.key}: ${scenario.title} (${describeLatency(scenario.latency)})`);
  const profiled = settings.profile === scenario.key;
  if (profiled) mkdirSync(PROFILE_DIR, { recursive: true });
  const fleet = await startFleet({
    buyers: scenario.buyers,
    processes: settings.fleetProcesses,
    latency: scenario.latency,
    noBidRate: settings.noBidRate,
    postRejectRate: settings.postRejectRate,
  });
  let floor: { child: Child; url: string } | undefined;
  let leadex: Leadex | undefined;
  const profilers: Profiler[] = [];
  try {
    // Both exchanges stay up for the whole scenario (an idle one costs nothing), so their runs
    // can alternate: a neighbour's burst of CPU then hits both rather than one.
    floor = await startFloor(fleet, profiled ? INSPECT_ARGS : []);
    leadex = await startLeadex({ buyers: fleet.buyers, label: scenario.key, ...(profiled ? { nodeArgs: INSPECT_ARGS } : {}) });
    const servers: Server[] = [
      { target: 'floor', pid: floor.child.pid, url: floor.url, apiKey: 'none', profiler: profiled ? await attachProfiler(floor.child) : null },
      { target: 'leadex', pid: leadex.pid, url: leadex.url, apiKey: leadex.apiKey, profiler: profiled ? await attachProfiler(leadex.child) : null },
    ];
    for (const server of servers) if (server.profiler) profilers.push(server.profiler);
    await fleet.reset();
    for (const server of servers) {
      const s = await sanityLead(server.url, server.apiKey);
      sanity.push({ scenario: scenario.key, target: server.target, ...s });
      log(`${scenario.key} ${server.target} sanity lead: ${s.status} ${JSON.stringify(s.body)}`);
    }

    for (const [i, mode] of settings.modes.entries()) {
      const warmupS = i === 0 ? Math.max(settings.startWarmupS, settings.warmupS) : settings.warmupS;
      for (const server of servers) {
        // Each measured run reads leadex's /metrics before and after. Its first scrape is the first
        // GET its HTTP server meets, and V8 drops the code it had optimised for POSTs alone (and
        // prom-client's collectors run for the first time): a slow first second, charged to
        // whichever run came first. Scraped here, that happens in the warm-up.
        if (server.target === 'leadex') await readBuckets(server.url);
        if (warmupS > 0) await driver.drive({ ...loadFor(scenario, server, mode), durationS: warmupS });
      }
      await sleep(200);
      const runs: Row[] = [];
      for (let rep = 1; rep <= settings.repeat; rep++) {
        const order = rep % 2 === 1 ? servers : [...servers].reverse();
        for (const server of order) runs.push(await measure(scenario, server, mode, fleet, rep, rep === 1));
      }
      allRuns.push(...runs);
      const reported = leastDisturbedRepetition(runs);
      for (const server of servers) rows.push(...reported.filter((r) => r.target === server.target));
    }

    for (const profiler of profilers) profiler.close();
    await floor.child.stop();
    audits.push(await stopAndAudit(scenario.key, leadex, fleet));
  } finally {
    for (const profiler of profilers) profiler.close();
    await floor?.child.stop();
    await leadex?.stop();
    await leadex?.drop();
    await fleet.stop();
  }
}

interface Sustained {
  durationS: number;
  /** When the warm-up ended: at --sustained-warmup, or at the first major GC after it, or at the deadline. */
  warmupS: number;
  warmupBy: 'time' | 'major GC' | 'deadline';
  rate: number | null;
  latency: string;
  drive: DriveResult;
  rssStartMiB: number;
  rssWarmMiB: number;
  rssEndMiB: number;
  rssMaxMiB: number;
  /**
   * V8 heap in use just after the major GC that ended the warm-up (or the last one before it),
   * and just after a full GC forced at the end (inspector).
   */
  retainedHeapWarmMiB: number | null;
  retainedHeapEndMiB: number | null;
  /** leadex's major GCs during the run (inspector): when, and the heap in use just after. */
  majorGcs: MajorGc[];
  /** Allocations made after the warm-up mark and still alive at the end, by site. */
  heap: HeapSummary | null;
  memorySamples: MemorySample[];
  cpuMsPerAuction: number;
  /** Whole machine busy share during the run (2 cores: leadex alone can fill at most half). */
  machineBusy: number;
  audit: AuditCheck;
}

interface MemorySample {
  t: number;
  rss: number;
  /** From process.memoryUsage() in leadex, MiB (absent without the inspector). */
  heapUsed?: number;
  external?: number;
  arrayBuffers?: number;
}

interface WarmMark {
  sample: MemorySample;
  by: Sustained['warmupBy'];
  /** Heap in use just after the major GC at or before the mark. */
  retainedMiB: number | null;
}

interface MajorGc {
  t: number;
  heapUsedMiB: number;
}

const MiB = 1024 * 1024;

/** Evaluated in leadex through the inspector: keeps its major GCs (perf_hooks kind 4) until pulled. */
const WATCH_MAJOR_GCS = `(() => {
  const seen = (globalThis.__benchMajorGcs = []);
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.detail?.kind === 4) seen.push({ at: performance.timeOrigin + entry.startTime + entry.duration, heapUsed: process.memoryUsage().heapUsed });
    }
  }).observe({ entryTypes: ['gc'] });
  return true;
})()`;

/**
 * Whether the sustained warm-up ends at `t` (past --sustained-warmup), and why: a major GC came
 * after --sustained-warmup, or one came before it, or none came by the deadline. Without GCs to
 * watch (no inspector), time alone ends it.
 */
function warmupEndedBy(t: number, lastGc: MajorGc | undefined | 'not watched', deadlineS: number): Sustained['warmupBy'] | null {
  if (lastGc === 'not watched') return 'time';
  if (lastGc !== undefined) return lastGc.t >= settings.sustainedWarmupS ? 'major GC' : 'time';
  return t >= deadlineS ? 'deadline' : null;
}

/** The heap at the warm-up mark; a run whose heap never needed a major GC until then has none to read. */
function heapAtWarmUp(mib: number | null): string {
  return mib === null ? 'none (no major GC by then)' : `${mib.toFixed(0)} MiB`;
}

async function runSustained(): Promise<Sustained> {
  log(`sustained: leadex, 10 buyers (${describeLatency(settings.sustainedLatency)}), ${settings.sustainedS} s, ${settings.sustainedRate ? `${settings.sustainedRate}/s` : `max with ${settings.connections} connections`}`);
  const profiled = settings.profile === 'sustained';
  if (profiled) mkdirSync(PROFILE_DIR, { recursive: true });
  const fleet = await startFleet({
    buyers: 10,
    processes: settings.fleetProcesses,
    latency: settings.sustainedLatency,
    noBidRate: settings.noBidRate,
    postRejectRate: settings.postRejectRate,
  });
  try {
    // The inspector reads leadex's heap (after a forced full GC) to tell a leak from a heap
    // that is merely growing into its limit; BENCH_SUSTAINED_INSPECT=0 leaves it out.
    const inspect = profiled || process.env.BENCH_SUSTAINED_INSPECT !== '0';
    const leadex = await startLeadex({ buyers: fleet.buyers, label: 'sustained', ...(inspect ? { nodeArgs: INSPECT_ARGS } : {}) });
    const inspector = inspect ? await attachInspector(leadex.child) : null;
    const profiler = inspector && profiled ? await profilerOf(inspector) : null;
    try {
      await fleet.reset();
      await waitForQuiet();
      const memory = async (): Promise<{ heapUsed: number; external: number; arrayBuffers: number } | null> => {
        if (!inspector) return null;
        const usage = await inspector
          .evaluate<{ heapUsed: number; external: number; arrayBuffers: number }>(
            '(({ heapUsed, external, arrayBuffers }) => ({ heapUsed, external, arrayBuffers }))(process.memoryUsage())',
          )
          .catch(() => null);
        return usage && { heapUsed: usage.heapUsed / MiB, external: usage.external / MiB, arrayBuffers: usage.arrayBuffers / MiB };
      };
      const retained = async () => {
        if (!inspector) return null;
        await inspector.collectGarbage().catch(() => {});
        return (await memory())?.heapUsed ?? null;
      };
      // V8's own major GCs, seen from inside leadex: each one's end, and the heap in use just after
      // it. No full GC is forced before the end: one at the warm-up mark gave back ~100 MiB of
      // pages, and the end then read a heap still growing back into its limit.
      const majorGcs: MajorGc[] = [];
      const watchingGcs = inspector ? await inspector.evaluate<boolean>(WATCH_MAJOR_GCS).catch(() => false) : false;
      const pullMajorGcs = async (): Promise<void> => {
        if (!inspector || !watchingGcs) return;
        const seen = await inspector.evaluate<Array<{ at: number; heapUsed: number }>>('globalThis.__benchMajorGcs.splice(0)').catch(() => []);
        for (const gc of seen) majorGcs.push({ t: (gc.at - t0Epoch) / 1000, heapUsedMiB: gc.heapUsed / MiB });
      };
      // From the warm-up mark on, a sampling heap profiler tracks allocations; what is still
      // alive after the final full GC is the retained growth, by allocation site.
      let heapSampling = false;
      const startHeapSampling = async () => {
        if (!inspector) return;
        heapSampling = await inspector
          .send('HeapProfiler.startSampling', { samplingInterval: 16_384 })
          .then(() => true)
          .catch(() => false);
      };
      const rssStart = rssMiB(leadex.pid);
      const samples: MemorySample[] = [];
      const t0 = performance.now();
      const t0Epoch = Date.now();
      // The warm-up ends at --sustained-warmup if leadex has had a major GC by then, else at its
      // first one after that (two thirds into the run at the latest): until V8 has once let the old
      // generation grow to its limit, RSS is still climbing to its plateau, and how long that takes
      // depends on how fast auctions run (load/README.md, "Sustained").
      const latestMarkS = (settings.sustainedS * 2) / 3;
      let warm: WarmMark | null = null;
      let sampling = false;
      const sampler = setInterval(() => {
        if (sampling) return;
        sampling = true;
        const t = (performance.now() - t0) / 1000;
        const rss = rssMiB(leadex.pid);
        void (async () => {
          const m = await memory();
          await pullMajorGcs();
          const sample: MemorySample = { t, rss, ...(m ?? {}) };
          samples.push(sample);
          if (warm === null && t >= settings.sustainedWarmupS) {
            const lastGc = majorGcs.at(-1);
            const by = warmupEndedBy(t, watchingGcs ? lastGc : 'not watched', latestMarkS);
            if (by !== null) {
              warm = { sample, by, retainedMiB: lastGc?.heapUsedMiB ?? null };
              await startHeapSampling();
            }
          }
        })().finally(() => {
          sampling = false;
        });
      }, 1000);
      await profiler?.start();
      const cpu0 = cpuMs(leadex.pid);
      const machine0 = machineCpuMs();
      const result = await driver.drive({
        url: leadex.url,
        apiKey: leadex.apiKey,
        mode: 'direct',
        connections: settings.connections,
        durationS: settings.sustainedS,
        rateDriver: settings.rateDriver,
        ...(settings.sustainedRate ? { rate: settings.sustainedRate } : {}),
      });
      clearInterval(sampler);
      const cpu1 = cpuMs(leadex.pid);
      const machine1 = machineCpuMs();
      if (profiler) {
        const file = await profiler.stop(join(PROFILE_DIR, 'leadex-sustained-direct.cpuprofile'));
        profiles.push({ scenario: 'sustained', mode: 'direct', target: 'leadex', summary: summariseProfile(file, 25) });
      }
      samples.push({ t: (performance.now() - t0) / 1000, rss: rssMiB(leadex.pid), ...((await memory()) ?? {}) });
      await pullMajorGcs();
      const retainedEnd = await retained();
      let heap: HeapSummary | null = null;
      if (inspector && heapSampling) {
        const sampled = (await inspector.send('HeapProfiler.getSamplingProfile').catch(() => null)) as { profile: unknown } | null;
        await inspector.send('HeapProfiler.stopSampling').catch(() => {});
        if (sampled) {
          mkdirSync(PROFILE_DIR, { recursive: true });
          const file = join(PROFILE_DIR, 'leadex-sustained.heapprofile');
          writeFileSync(file, JSON.stringify(sampled.profile));
          heap = summariseHeapProfile(file, 12);
        }
      }
      const mark: WarmMark = (warm as WarmMark | null) ?? { sample: samples.find((s) => s.t >= settings.sustainedWarmupS) ?? samples[0]!, by: 'time' as const, retainedMiB: null };
      const end = samples[samples.length - 1]!;
      log(
        `sustained: ${result.auctionsPerS.toFixed(0)} auctions/s, errors ${result.errors.total}, RSS start ${rssStart.toFixed(0)} warm (${mark.sample.t.toFixed(0)} s, by ${mark.by}) ${mark.sample.rss.toFixed(0)} end ${end.rss.toFixed(0)} MiB` +
          (retainedEnd !== null ? `, heap after a major GC ${heapAtWarmUp(mark.retainedMiB)} → ${retainedEnd.toFixed(0)} MiB` : ''),
      );
      inspector?.close();
      const audit = await stopAndAudit('sustained', leadex, fleet);
      return {
        durationS: settings.sustainedS,
        warmupS: mark.sample.t,
        warmupBy: mark.by,
        rate: settings.sustainedRate || null,
        latency: describeLatency(settings.sustainedLatency),
        drive: result,
        rssStartMiB: rssStart,
        rssWarmMiB: mark.sample.rss,
        rssEndMiB: end.rss,
        rssMaxMiB: Math.max(...samples.map((s) => s.rss)),
        retainedHeapWarmMiB: mark.retainedMiB,
        retainedHeapEndMiB: retainedEnd,
        majorGcs,
        heap,
        memorySamples: samples,
        cpuMsPerAuction: (cpu1 - cpu0) / Math.max(1, result.auctions),
        machineBusy: (machine1.busy - machine0.busy) / Math.max(1, machine1.total - machine0.total),
        audit,
      };
    } finally {
      inspector?.close();
      await leadex.stop();
      await leadex.drop();
    }
  } finally {
    await fleet.stop();
  }
}

// ---- report ------------------------------------------------------------------------------------

interface Check {
  name: string;
  pass: boolean;
  detail: string;
}

function find(scenario: string, mode: Mode, target: Target): Row | undefined {
  return rows.find((r) => r.scenario === scenario && r.mode === mode && r.target === target);
}

/** leadex over the floor, for one pair of runs: auctions/s and CPU per auction. */
function ratiosOf(floor: Row, leadex: Row): { thr: number; cpu: number } {
  return { thr: leadex.drive.auctionsPerS / floor.drive.auctionsPerS, cpu: leadex.cpuMsPerAuction / floor.cpuMsPerAuction };
}

function ratios(scenario: string, mode: Mode): { thr: number; cpu: number } | null {
  const floor = find(scenario, mode, 'floor');
  const leadex = find(scenario, mode, 'leadex');
  return floor && leadex ? ratiosOf(floor, leadex) : null;
}

/** leadex's p99 over the floor's, signed, in ms. */
function p99Over(floor: Row, leadex: Row): string {
  const d = leadex.drive.latency.p99 - floor.drive.latency.p99;
  return `${d >= 0 ? '+' : ''}${d.toFixed(1)}`;
}

/** Each repetition's floor and leadex runs of a mode, in order: what the reported pair was chosen from. */
function repetitions(scenario: string, mode: Mode): Array<{ rep: number; floor: Row; leadex: Row }> {
  const of = (target: Target) => allRuns.filter((r) => r.scenario === scenario && r.mode === mode && r.target === target);
  const floors = of('floor');
  return of('leadex').flatMap((leadex) => {
    const floor = floors.find((r) => r.rep === leadex.rep);
    return floor ? [{ rep: leadex.rep, floor, leadex }] : [];
  });
}

/** With more than one repetition, what each one read, so a reported pair's luck shows. */
function everyRepetition(scenario: string, mode: Mode, reading: (floor: Row, leadex: Row) => string): string {
  const reps = repetitions(scenario, mode);
  return reps.length < 2 ? '' : `; each repetition: ${reps.map(({ rep, floor, leadex }) => `#${rep} ${reading(floor, leadex)}`).join(', ')}`;
}

/**
 * Why a leadex run cannot count as a win whatever its speed: it answered errors, or sold clearly
 * less than the floor did on the same fleet. Null when it is a fair comparison.
 */
function unfair(scenario: string, mode: Mode): string | null {
  const floor = find(scenario, mode, 'floor');
  const leadex = find(scenario, mode, 'leadex');
  if (!floor || !leadex) return null;
  const reasons: string[] = [];
  const errorShare = leadex.drive.errors.total / Math.max(1, leadex.drive.auctions + leadex.drive.errors.total);
  if (errorShare > 0.001) reasons.push(`leadex errors ${(errorShare * 100).toFixed(1)}%`);
  if (leadex.soldShare < floor.soldShare - 0.05) reasons.push(`leadex sold ${(leadex.soldShare * 100).toFixed(0)}% vs floor ${(floor.soldShare * 100).toFixed(0)}%`);
  return reasons.length > 0 ? reasons.join(', ') : null;
}

/** Issue 5: leadex reaches at least this share of the floor's auctions/s in scenario a. */
const THROUGHPUT_TARGET = 0.6;
const pct = (x: number) => `${(x * 100).toFixed(0)}%`;

function checks(sustained: Sustained | null): Check[] {
  const list: Check[] = [];
  const guarded = (name: string, pass: boolean, detail: string, scenarios: string, mode: Mode): Check => {
    const why = [...scenarios].map((scenario) => unfair(scenario, mode)).find((reason) => reason !== null) ?? null;
    return why ? { name, pass: false, detail: `${detail} — not comparable: ${why}` } : { name, pass, detail };
  };
  for (const mode of settings.modes) {
    const a = ratios('a', mode);
    if (a) {
      const thrOf = (floor: Row, leadex: Row) => pct(ratiosOf(floor, leadex).thr);
      const cpuOf = (floor: Row, leadex: Row) => `${ratiosOf(floor, leadex).cpu.toFixed(2)}×`;
      list.push(
        guarded(`a ${mode}: leadex ≥ ${pct(THROUGHPUT_TARGET)} of floor auctions/s`, a.thr >= THROUGHPUT_TARGET, `${pct(a.thr)}${everyRepetition('a', mode, thrOf)}`, 'a', mode),
      );
      list.push(guarded(`a ${mode}: leadex CPU/auction ≤ 1.7× floor`, a.cpu <= 1.7, `${a.cpu.toFixed(2)}×${everyRepetition('a', mode, cpuOf)}`, 'a', mode));
    }
    const floorB = find('b', mode, 'floor');
    const leadexB = find('b', mode, 'leadex');
    if (floorB && leadexB) {
      const d = leadexB.drive.latency.p99 - floorB.drive.latency.p99;
      list.push(
        guarded(
          `b ${mode}: leadex p99 ≤ floor p99 + 15 ms`,
          d <= 15,
          `${leadexB.drive.latency.p99.toFixed(1)} vs ${floorB.drive.latency.p99.toFixed(1)} ms (${p99Over(floorB, leadexB)})` +
            // The disk's share of the tail (load/FINDINGS.md, "b's worst runs are the disk's fsync").
            (leadexB.record ? `; lead records over 25 ms: ${leadexB.record.over25Ms} of ${leadexB.record.leads}, over 100 ms: ${leadexB.record.over100Ms}` : '') +
            `; leadex's tail: ${describeTail(leadexB.drive)}` +
            everyRepetition('b', mode, (floor, leadex) => `${p99Over(floor, leadex)} ms`),
          'b',
          mode,
        ),
      );
    }
    const c = ratios('c', mode);
    if (a && c) {
      const drop = a.thr - c.thr;
      list.push(
        guarded(
          `c ${mode}: throughput ratio at 100 buyers ≥ ratio at 10 − 10 pts`,
          drop <= 0.1,
          `${pct(c.thr)} vs ${pct(a.thr)} (${drop >= 0 ? '−' : '+'}${(Math.abs(drop) * 100).toFixed(0)} pts)`,
          'ca',
          mode,
        ),
      );
    }
  }
  if (sustained) {
    const growth = sustained.rssEndMiB / sustained.rssWarmMiB - 1;
    list.push({
      name: 'sustained: RSS at end within 15% of RSS after warm-up',
      pass: Math.abs(growth) <= 0.15,
      detail: `${sustained.rssWarmMiB.toFixed(0)} → ${sustained.rssEndMiB.toFixed(0)} MiB (${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(1)}%, max ${sustained.rssMaxMiB.toFixed(0)})`,
    });
    list.push({
      name: 'sustained: campaign.pinged events == pings received by the fleet',
      pass: sustained.audit.pingedEvents === sustained.audit.pingsReceived,
      detail: `${sustained.audit.pingedEvents} events, ${sustained.audit.pingsReceived} pings ${JSON.stringify(sustained.audit.census.pinged)}`,
    });
  }
  // Guards: a fast exchange that errors or does not sell is not a win.
  const leadexRows = rows.filter((r) => r.target === 'leadex');
  const errors = leadexRows.reduce((n, r) => n + r.drive.errors.total, 0) + (sustained?.drive.errors.total ?? 0);
  list.push({ name: 'leadex answered no errors (non-2xx, socket errors, timeouts)', pass: errors === 0, detail: `${errors} errors` });
  const direct = leadexRows.filter((r) => r.mode === 'direct');
  if (direct.length > 0) {
    const worst = Math.min(...direct.map((r) => r.soldShare));
    list.push({ name: 'leadex sells in direct post (≥ 90% of auctions sold)', pass: worst >= 0.9, detail: `lowest sold share ${pct(worst)}` });
  }
  // The same of the floor: a floor that fails its auctions would be no floor at all.
  const floorDirect = rows.filter((r) => r.target === 'floor' && r.mode === 'direct');
  if (floorDirect.length > 0) {
    const worst = Math.min(...floorDirect.map((r) => r.soldShare));
    list.push({ name: 'the floor sells in direct post too (≥ 90% of auctions sold)', pass: worst >= 0.9, detail: `lowest sold share ${pct(worst)}` });
  }
  for (const audit of [...audits, ...(sustained ? [sustained.audit] : [])]) {
    list.push({
      name: `${audit.scenario}: every ping a buyer received has its campaign.pinged event`,
      pass: audit.missingEvents === 0 && audit.pingsReceived > 0,
      detail:
        `${audit.pingsReceived} pings received, ${audit.missingEvents} without an event` +
        (audit.eventsWithoutPing > 0 ? `; ${audit.eventsWithoutPing} events are for pings no buyer got ${JSON.stringify(audit.census.pinged)}` : ''),
    });
  }
  return list;
}

function table(): string {
  const header = ['scenario', 'mode', 'server', 'auctions/s', 'p50 ms', 'p99 ms', 'cpu ms/auc', 'pg+redis', 'fleet', 'errors', 'sold', 'thr ratio', 'cpu ratio'];
  const lines: string[][] = [header];
  for (const r of rows) {
    const ratio = r.target === 'leadex' ? ratios(r.scenario, r.mode) : null;
    lines.push([
      `${r.scenario} ${r.title}`,
      r.mode,
      r.target + (r.profiled ? '*' : ''),
      r.drive.auctionsPerS.toFixed(0),
      r.drive.latency.p50.toFixed(1),
      r.drive.latency.p99.toFixed(1),
      r.cpuMsPerAuction.toFixed(3),
      r.servicesMsPerAuction.toFixed(3),
      r.fleetMsPerAuction.toFixed(3),
      String(r.drive.errors.total),
      `${(r.soldShare * 100).toFixed(0)}%`,
      ratio ? `${(ratio.thr * 100).toFixed(0)}%` : '',
      ratio ? `${ratio.cpu.toFixed(2)}×` : '',
    ]);
  }
  const widths = header.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  const render = (l: string[]) => l.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [render(lines[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.slice(1).map(render)].join('\n');
}

function diagnostics(): string {
  const header = ['run', 'user ms/auc', 'sys ms/auc', 'reads/auc', 'writes/auc', 'KiB out/auc', 'RSS MiB', 'driver ms/auc', 'other ms/auc', 'steal ms/auc', 'machine busy'];
  const lines: string[][] = [header];
  for (const r of rows) {
    lines.push([
      `${r.scenario} ${r.mode} ${r.target}`,
      r.userMsPerAuction.toFixed(3),
      r.sysMsPerAuction.toFixed(3),
      r.readCallsPerAuction.toFixed(1),
      r.writeCallsPerAuction.toFixed(1),
      r.kibWrittenPerAuction.toFixed(1),
      r.rssMiB.toFixed(0),
      r.driverMsPerAuction.toFixed(3),
      r.otherMsPerAuction.toFixed(3),
      r.stealMsPerAuction.toFixed(3),
      `${(r.machineBusy * 100).toFixed(0)}%`,
    ]);
  }
  const widths = header.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  const render = (l: string[]) => l.map((cell, i) => (i < 1 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [render(lines[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.slice(1).map(render)].join('\n');
}

/**
 * Machine CPU an auction costs, ms, part by part: exchange, pg+redis, fleet, driver and other,
 * every process the bench accounts for, steal left out.
 */
function machinePartsMs(r: Row): number[] {
  return [r.cpuMsPerAuction, r.servicesMsPerAuction, r.fleetMsPerAuction, r.driverMsPerAuction, Math.max(0, r.otherMsPerAuction)];
}

/**
 * At max throughput the machine's cores are the bottleneck, so auctions/s is the busy CPU time
 * divided by what an auction costs the machine. That explains the throughput ratio from the CPU
 * columns, and says how cheap leadex's own process would have to be for the 60 % target with its
 * Postgres and Redis, which share those cores, costing what they do.
 */
function machineBudget(): string[] {
  const lines: string[] = [];
  const parts = (r: Row) => machinePartsMs(r).map((ms) => ms.toFixed(2)).join(' + ');
  const machineMs = (r: Row) => machinePartsMs(r).reduce((sum, ms) => sum + ms, 0);
  for (const scenario of SCENARIOS.filter((s) => s.rate === undefined)) {
    for (const mode of settings.modes) {
      const floor = find(scenario.key, mode, 'floor');
      const leadex = find(scenario.key, mode, 'leadex');
      if (!floor || !leadex) continue;
      const floorMs = machineMs(floor);
      const leadexMs = machineMs(leadex);
      const predicted = (leadex.machineBusy / leadexMs) / (floor.machineBusy / floorMs);
      const measured = leadex.drive.auctionsPerS / floor.drive.auctionsPerS;
      const allowed = floorMs / THROUGHPUT_TARGET;
      const ownAllowed = allowed - (leadexMs - leadex.cpuMsPerAuction);
      lines.push(
        `  ${scenario.key} ${mode}: floor ${floorMs.toFixed(2)} ms (${parts(floor)}), leadex ${leadexMs.toFixed(2)} ms (${parts(leadex)}); ` +
          `at their busy shares (${pct(floor.machineBusy)}, ${pct(leadex.machineBusy)}) that predicts ${pct(predicted)} of the floor's auctions/s, measured ${pct(measured)}. ` +
          `${pct(THROUGHPUT_TARGET)} at the floor's busy share needs ≤ ${allowed.toFixed(2)} ms in all, which leaves leadex's own process ` +
          `${ownAllowed.toFixed(2)} ms (${(ownAllowed / floor.cpuMsPerAuction).toFixed(2)}× the floor's)`,
      );
    }
  }
  return lines;
}

// ---- main --------------------------------------------------------------------------------------

const startedAt = new Date();
log(`settings ${JSON.stringify({ ...settings, sustainedLatency: describeLatency(settings.sustainedLatency) })}`);
let sustained: Sustained | null = null;
let failure: unknown = null;
// One driver for the whole bench: its code stays warm from run to run, as it did in-process.
const driver: DriverProcess = await startDriver();
try {
  for (const scenario of SCENARIOS) if (settings.scenarios.includes(scenario.key)) await runScenario(scenario);
  if (settings.sustainedS > 0) sustained = await runSustained();
} catch (error) {
  failure = error;
  log(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
} finally {
  await driver.stop();
}

const results = checks(sustained);
const out: string[] = [];
out.push('');
out.push(
  `leadex vs floor — ${settings.durationS} s per run (${settings.rateDurationS} s at an offered rate) after a ${settings.startWarmupS} s warm-up from start (${settings.warmupS} s for each later mode), ${settings.connections} connections, rate driver ${settings.rateDriver}`,
);
out.push(table());
out.push('  cpu ms/auc: exchange process CPU (user+sys) per completed auction; pg+redis, fleet: the same for those processes.');
out.push('  thr ratio / cpu ratio: leadex ÷ floor in the same scenario and mode. * = CPU-profiled run.');
out.push('');
out.push('where the exchange CPU goes (from /proc/<pid>/stat and /proc/<pid>/io):');
out.push(diagnostics());
const budget = machineBudget();
if (budget.length > 0) {
  out.push('');
  out.push('what an auction costs the machine at max throughput, ms: exchange + pg+redis + fleet + driver + other:');
  out.push(...budget);
}
for (const r of rows.filter((row) => disturbance(row) > 0.25 * row.cpuMsPerAuction)) {
  out.push(
    `  note: ${r.scenario} ${r.mode} ${r.target}: ${r.otherMsPerAuction.toFixed(3)} ms/auction of machine CPU went to processes outside the bench and ${r.stealMsPerAuction.toFixed(3)} to other guests of the host (steal; machine ${(r.machineBusy * 100).toFixed(0)}% busy)`,
  );
}
if (sustained) {
  out.push('');
  out.push(
    `sustained leadex (direct, 10 buyers ${sustained.latency}, ${sustained.durationS} s, ${sustained.rate ? `${sustained.rate}/s` : `${settings.connections} connections`}): ` +
      `${sustained.drive.auctionsPerS.toFixed(0)} auctions/s, p50 ${sustained.drive.latency.p50.toFixed(1)} p99 ${sustained.drive.latency.p99.toFixed(1)} ms, ` +
      `cpu ${sustained.cpuMsPerAuction.toFixed(3)} ms/auction, machine ${(sustained.machineBusy * 100).toFixed(0)}% busy, errors ${sustained.drive.errors.total}, outcomes ${JSON.stringify(sustained.drive.outcomes)}, ` +
      `RSS start ${sustained.rssStartMiB.toFixed(0)} / after warm-up (${sustained.warmupS.toFixed(0)} s, by ${sustained.warmupBy}) ${sustained.rssWarmMiB.toFixed(0)} / end ${sustained.rssEndMiB.toFixed(0)} / max ${sustained.rssMaxMiB.toFixed(0)} MiB`,
  );
  if (sustained.majorGcs.length > 0) {
    out.push(`  major GCs (s: heap in use just after, MiB): ${sustained.majorGcs.map((gc) => `${gc.t.toFixed(0)}: ${gc.heapUsedMiB.toFixed(0)}`).join(', ')}`);
  }
  if (sustained.retainedHeapEndMiB !== null) {
    out.push(
      `  V8 heap in use after a full GC: ${heapAtWarmUp(sustained.retainedHeapWarmMiB)} after warm-up, ${sustained.retainedHeapEndMiB.toFixed(0)} MiB at the end (forced) ` +
        `(growth that survives a full GC is retained memory, not a lazy collector)`,
    );
  }
  if (sustained.heap) out.push(`  ${formatHeapProfile(sustained.heap).split('\n').join('\n  ')}`);
}
out.push('');
out.push('audit (leadex stopped with SIGTERM, then rows counted in its database):');
for (const a of [...audits, ...(sustained ? [sustained.audit] : [])]) {
  out.push(`  ${a.scenario}: pings received ${a.pingsReceived}, campaign.pinged ${a.pingedEvents} (${a.missingEvents} received pings without one), leads ${JSON.stringify(a.census.leads)}, sales ${a.census.sales}, exit ${a.exitCode}${a.warnings.length ? `, warnings: ${a.warnings.join(' | ')}` : ''}`);
}
out.push('');
out.push('checks:');
for (const c of results) out.push(`  ${c.pass ? 'PASS' : 'FAIL'}  ${c.name}: ${c.detail}`);
for (const p of profiles) {
  out.push('');
  out.push(`[${p.scenario} ${p.mode} ${p.target}] ${formatProfile(p.summary)}`);
}
if (failure) out.push(`\nbench did not finish: ${failure instanceof Error ? failure.message : String(failure)}`);
process.stdout.write(`${out.join('\n')}\n`);

mkdirSync(join(HERE, 'results'), { recursive: true });
writeFileSync(
  settings.out,
  `${JSON.stringify(
    {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      node: process.version,
      settings: { ...settings, sustainedLatency: describeLatency(settings.sustainedLatency) },
      rows,
      allRuns,
      sustained,
      audits,
      sanity,
      checks: results,
      profiles,
      failure: failure ? String(failure) : null,
    },
    null,
    2,
  )}\n`,
);
log(`results written to ${settings.out}`);
process.exit(failure ? 1 : 0);
