import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Files that measure wall-clock bounds (deadlines, breakers) or load the machine themselves
// (several exchange processes, service outages): they run one at a time, after the rest, so
// neither disturbs the other on a 2-core machine.
const ISOLATED = [
  'test/exchange/deadlines.test.ts',
  'test/exchange/hostile-buyers.test.ts',
  'test/exchange/breakers.test.ts',
  'test/exchange/overload.test.ts',
  'test/multinode/**/*.test.ts',
  'test/ops/**/*.test.ts',
  'test/main.test.ts',
];

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('..', import.meta.url)),
    globalSetup: ['test/support/require-services.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'parallel', include: ['test/**/*.test.ts'], exclude: ISOLATED, sequence: { groupOrder: 0 } } },
      { extends: true, test: { name: 'isolated', include: ISOLATED, fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});
