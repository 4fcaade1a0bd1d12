import { defineConfig } from 'vitest/config';

// One GPU device per worker process; lavapipe uses every core for each dispatch, so
// test files run one at a time rather than fighting over the 2 cores.
export default defineConfig({
  // Workspace packages resolve to their TypeScript source (the "source" export condition),
  // for the test runner's server-side module graph too.
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'], externalConditions: ['source'] } },
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'test/**/*.test.ts',
      'benchmarks/src/**/*.test.ts',
      'examples/src/**/*.test.ts',
    ],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
