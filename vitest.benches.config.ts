import { defineConfig } from 'vitest/config';

// `npm run test:benches`: the benches run as documented, at small sizes (bench/benches.int.test.ts),
// kept out of `npm test`. A bench uses every core by design (bench:paper's trainer, its sgemm floor,
// its own coordinator and worker), which would starve the integration tests' timing bounds beside
// it, so these files run alone, one at a time, after `npm test` (.ci/run).
export default defineConfig({
  test: {
    include: ['bench/**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 15 * 60_000,
    hookTimeout: 5 * 60_000,
  },
});
