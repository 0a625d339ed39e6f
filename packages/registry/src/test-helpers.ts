// Test-only helpers of @cmbn/registry (not exported from index.ts: they need vitest).
import { afterAll, beforeAll } from 'vitest';
import { getDb } from './client.ts';
import { createTestDatabase, type TestDatabase } from './test-db.ts';

/**
 * The fixture of the registry's integration tests: a fresh migrated database for the test file,
 * the registry singleton pointed at it in beforeAll, and the database dropped in afterAll.
 */
export function useTestDatabase(): void {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
    getDb(db.url);
  });
  afterAll(async () => {
    await db?.drop();
  });
}
