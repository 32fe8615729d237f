// Starts the floor (load/floor.ts) as a child process on a fleet's buyers.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Fleet } from './buyer-fleet.ts';
import { flagsFromEnv, spawnNode, type Child } from './child.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

export async function startFloor(fleet: Fleet, nodeArgs: string[] = [], env: Record<string, string> = {}): Promise<{ child: Child; url: string }> {
  // Same buyers, same paths; the query string only lets the fleet count the floor's requests apart.
  const buyers = fleet.buyers.map((b) => ({ pingUrl: `${b.pingUrl}?floor`, postUrl: `${b.postUrl}?floor` }));
  const child = spawnNode({
    script: join(HERE, 'floor.ts'),
    cwd: ROOT,
    nodeArgs: [...flagsFromEnv('BENCH_FLOOR_NODE_ARGS'), ...nodeArgs],
    env: { ...env, FLOOR_BUYERS: JSON.stringify(buyers), FLOOR_PORT: '0' },
    echo: '[floor]',
  });
  const ready = await child.waitFor('ready');
  return { child, url: ready.url as string };
}
