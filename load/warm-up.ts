// How long a fresh exchange takes to settle: starts the fleet, the floor and leadex as
// `npm run bench` does, then drives them in turn, slice after slice, and prints each slice's CPU
// per auction and auctions/s. Where the figures stop falling is how long a warm-up must be for a
// measured run to read the steady state (bench.ts, --start-warmup).
//   node load/warm-up.ts [slices=12] [seconds per slice=2] [direct|two-phase] [buyers=10]
import { startFleet } from './buyer-fleet.ts';
import { drive, type Mode } from './driver.ts';
import { startFloor } from './floor-server.ts';
import { startLeadex } from './leadex-server.ts';
import { cpuMs } from './proc.ts';

const slices = Number(process.argv[2] ?? 12);
const sliceS = Number(process.argv[3] ?? 2);
const mode = (process.argv[4] ?? 'direct') as Mode;
const buyers = Number(process.argv[5] ?? 10);
if (mode !== 'direct' && mode !== 'two-phase') throw new Error('mode is direct or two-phase');

// The fleet's defaults are scenario a's buyers: they answer at once, 20 % no-bids, 5 % rejected posts.
const fleet = await startFleet({ buyers });
const floor = await startFloor(fleet);
const leadex = await startLeadex({ buyers: fleet.buyers, label: 'warmup' });
try {
  const servers = [
    { name: 'floor', pid: floor.child.pid, url: floor.url, apiKey: 'none' },
    { name: 'leadex', pid: leadex.pid, url: leadex.url, apiKey: leadex.apiKey },
  ];
  console.log(`${buyers} buyers @0 ms, ${mode}, 50 connections, ${sliceS} s slices, floor and leadex in turn`);
  console.log('after s   floor cpu ms/auc  auctions/s   leadex cpu ms/auc  auctions/s   ratio');
  for (let i = 0; i < slices; i++) {
    const cells: string[] = [];
    const cpu: number[] = [];
    for (const server of servers) {
      const before = cpuMs(server.pid);
      const run = await drive({ url: server.url, apiKey: server.apiKey, mode, connections: 50, durationS: sliceS });
      const perAuction = (cpuMs(server.pid) - before) / Math.max(1, run.auctions);
      cpu.push(perAuction);
      cells.push(`${perAuction.toFixed(2).padStart(16)}  ${run.auctionsPerS.toFixed(0).padStart(10)}`);
    }
    // Each exchange's own load so far: it idles while the other one is driven.
    console.log(`${String(i * sliceS).padStart(7)}  ${cells.join('  ')}  ${(cpu[1]! / cpu[0]!).toFixed(2).padStart(6)}×`);
  }
} finally {
  await floor.child.stop();
  await leadex.stop();
  await leadex.drop();
  await fleet.stop();
}
