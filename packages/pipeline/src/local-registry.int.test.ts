import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, currentDatabaseUrl, listModels, type TestDatabase } from '@cmbn/registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cmbnHome, openLocalRegistry } from './local-registry.ts';

let db: TestDatabase;
let home: string;
beforeAll(async () => {
  db = await createTestDatabase();
  home = await mkdtemp(join(tmpdir(), 'cmbn-home-'));
});
afterAll(async () => {
  await db?.drop();
  await rm(home, { recursive: true, force: true });
});

describe('openLocalRegistry', () => {
  it('uses DATABASE_URL when set, with artifacts under CMBN_HOME (or CMBN_ARTIFACTS)', async () => {
    const lines: string[] = [];
    const reg = await openLocalRegistry({ env: { DATABASE_URL: db.url, CMBN_HOME: home }, log: (l) => lines.push(l) });
    try {
      expect(reg.mode).toBe('database-url');
      expect(reg.home).toBe(home);
      expect(reg.store.url).toBe(`file://${join(home, 'artifacts')}`);
      expect(currentDatabaseUrl()).toBe(db.url);
      expect(await listModels()).toEqual([]);
      expect(lines).toEqual([]);
    } finally {
      await reg.close();
    }
    expect(currentDatabaseUrl()).toBeUndefined();
    const other = await openLocalRegistry({ env: { DATABASE_URL: db.url, CMBN_HOME: home, CMBN_ARTIFACTS: join(home, 'elsewhere') } });
    expect(other.store.url).toBe(`file://${join(home, 'elsewhere')}`);
    await other.close();
  });

  it('defaults CMBN_HOME to ./.cmbn, as an absolute path', () => {
    expect(cmbnHome({})).toBe(join(process.cwd(), '.cmbn'));
  });
});
