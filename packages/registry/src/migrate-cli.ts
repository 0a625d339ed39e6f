/**
 * `npm run db:migrate`: migrates DATABASE_URL (default: the database prisma.config.ts names) through
 * migrateDatabase, the one implementation that tests and local mode use too.
 */
import { DEFAULT_DATABASE_URL } from '../../../prisma.config.ts';
import { migrateDatabase } from './migrate.ts';

const url = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
try {
  const r = await migrateDatabase(url, { log: (line) => process.stdout.write(`${line}\n`) });
  process.stdout.write(`db:migrate: ${r.applied.length === 0 ? 'up to date' : `applied ${r.applied.join(', ')}`}\n`);
} catch (err) {
  process.stderr.write(`db:migrate: ${(err as Error).message}\n`);
  process.exit(1);
}
