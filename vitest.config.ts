import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['apps/*/src/**/*.test.ts', 'packages/*/src/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/generated/**'],
    // Integration tests start real processes and talk to real Redis/Postgres; they need room.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // 2 cores here: run files in parallel but not so many that compute tests starve each other.
    maxWorkers: 2,
  },
});
