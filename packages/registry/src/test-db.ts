import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { closeDb, currentDatabaseUrl } from './client.ts';
import { MIGRATIONS_DIR, localMigrations, migrateDatabase } from './migrate.ts';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** Server used to create throwaway databases: CMBN_TEST_DATABASE_URL, else the local `test` database. */
export function testAdminUrl(): string {
  return process.env.CMBN_TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** sha256 over every migration's name and bytes: a template migrated from other files gets another name. */
async function migrationsDigest(): Promise<string> {
  const h = createHash('sha256');
  const names = localMigrations();
  for (const name of names) h.update(name).update('\0').update(await readFile(join(MIGRATIONS_DIR, name, 'migration.sql'))).update('\0');
  return h.digest('hex').slice(0, 16);
}

/**
 * A database migrated by migrateDatabase (the real `npm run db:migrate` path, which starts the
 * Prisma CLI: seconds) once per set of migration files, which every test database is then
 * copied from (CREATE DATABASE … TEMPLATE: milliseconds). An advisory lock on the admin server
 * makes concurrent test files build it once.
 */
async function migratedTemplate(admin: pg.Client, adminUrl: string): Promise<string> {
  const name = `cmbn_template_${await migrationsDigest()}`;
  await admin.query('SELECT pg_advisory_lock(hashtext($1))', [name]);
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate', [name]);
    if (rowCount === 0) {
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`); // a half-built one from a killed run
      await admin.query(`CREATE DATABASE "${name}"`);
      await migrateDatabase(withDatabase(adminUrl, name));
      await admin.query(`ALTER DATABASE "${name}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
    }
  } finally {
    await admin.query('SELECT pg_advisory_unlock(hashtext($1))', [name]);
  }
  return name;
}

/**
 * CREATE DATABASE cmbn_test_<random> on the admin server, migrated (unless `migrated: false`:
 * an empty database, as `createdb` leaves it), and return its URL.
 * drop() closes the registry singleton if it points there and drops the database (FORCE ends stray sessions).
 */
export async function createTestDatabase(opts: { adminUrl?: string; migrated?: boolean } = {}): Promise<TestDatabase> {
  const adminUrl = opts.adminUrl ?? testAdminUrl();
  const name = `cmbn_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    if (opts.migrated === false) await admin.query(`CREATE DATABASE "${name}"`);
    else await admin.query(`CREATE DATABASE "${name}" TEMPLATE "${await migratedTemplate(admin, adminUrl)}"`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(adminUrl, name);
  return {
    url,
    name,
    async drop() {
      if (currentDatabaseUrl() === url) await closeDb();
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
