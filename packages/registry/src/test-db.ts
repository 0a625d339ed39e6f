import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { closeDb, currentDatabaseUrl } from './client.ts';
import { migrateDatabase } from './migrate.ts';

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

/**
 * CREATE DATABASE cmbn_test_<random> on the admin server, migrate it, and return its URL.
 * drop() closes the registry singleton if it points there and drops the database (FORCE ends stray sessions).
 */
export async function createTestDatabase(opts: { adminUrl?: string } = {}): Promise<TestDatabase> {
  const adminUrl = opts.adminUrl ?? testAdminUrl();
  const name = `cmbn_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(adminUrl, name);
  await migrateDatabase(url);
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
