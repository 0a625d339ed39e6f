import { defineConfig } from 'vitest/config';

// `npm run test:hosts`: the multi-host suite (tests/hosts), kept out of `npm test`. Its files share
// one machine's namespaces, ports and cores, so they run one at a time.
export default defineConfig({
  test: {
    include: ['tests/hosts/**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 30 * 60_000,
    hookTimeout: 35 * 60_000,
  },
});
