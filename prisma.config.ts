// Prisma 6.19 CLI configured to run without its binary engines (offline; see /docs/DEPLOY.md):
// the schema engine is replaced by the JS engine talking through the pg driver adapter.
// The adapter must be @prisma/adapter-pg 7.x (installed as `adapter-pg7`): 6.19's adapter
// fails on Postgres `name` columns that migrate reads from the catalog.
import { defineConfig } from 'prisma/config';
import { PrismaPg } from 'adapter-pg7';

export const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/cmbn';

// schema.prisma reads env("DATABASE_URL"). Prisma 6.19 cannot read the generator's
// engineType when that variable is unset, falls back to the binary library engine and tries
// to download it, so give it the default before the CLI reads the schema.
process.env.DATABASE_URL ??= DEFAULT_DATABASE_URL;

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  adapter: async () => new PrismaPg({ connectionString: process.env.DATABASE_URL }),
});
