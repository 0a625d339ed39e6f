import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { RegistryError } from './errors.ts';

/** `prisma/migrations` at the repository root. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../prisma/migrations', import.meta.url));

// The same table and advisory lock key that `prisma migrate deploy` uses, so the CLI and this
// function see each other's work (`prisma migrate status` reports migrations applied here).
const PRISMA_LOCK_KEY = 72707369;
const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

export interface MigrateResult {
  applied: string[];
}

interface AppliedRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

/**
 * Applies `prisma/migrations/<name>/migration.sql` in name order, recording each in
 * `_prisma_migrations` with the sha256 checksum of the file, like `prisma migrate deploy`.
 * In-process (no CLI start-up, no engine download), so tests and local mode can migrate quickly.
 * Refuses to continue past a failed migration or one whose file changed after it was applied.
 */
export async function migrateDatabase(databaseUrl: string, opts: { migrationsDir?: string } = {}): Promise<MigrateResult> {
  const dir = opts.migrationsDir ?? MIGRATIONS_DIR;
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_LOCK_KEY]);
    await client.query(CREATE_TABLE);
    const { rows } = await client.query<AppliedRow>(
      'SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL',
    );
    const done = new Map(rows.map((r) => [r.migration_name, r]));
    for (const name of names) {
      const sql = await readFile(join(dir, name, 'migration.sql'), 'utf8').catch(() => undefined);
      if (sql === undefined) continue;
      const checksum = createHash('sha256').update(sql).digest('hex');
      const row = done.get(name);
      if (row !== undefined) {
        if (row.finished_at === null) {
          throw new RegistryError('CONFLICT', `migration ${name} failed earlier; resolve it (prisma migrate resolve) before migrating`);
        }
        if (row.checksum !== checksum) {
          throw new RegistryError('CONFLICT', `migration ${name} was modified after it was applied`);
        }
        continue;
      }
      const id = randomUUID();
      await client.query('INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at) VALUES ($1, $2, $3, now())', [
        id,
        checksum,
        name,
      ]);
      try {
        // Like prisma, the script runs as written (multi-statement simple query), not wrapped in a transaction.
        await client.query(sql);
      } catch (err) {
        await client.query('UPDATE "_prisma_migrations" SET logs = $2 WHERE id = $1', [id, String(err)]);
        throw new RegistryError('CONFLICT', `migration ${name} failed: ${(err as Error).message}`);
      }
      await client.query('UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1', [id]);
      applied.push(name);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_LOCK_KEY]).catch(() => {});
    await client.end();
  }
  return { applied };
}
