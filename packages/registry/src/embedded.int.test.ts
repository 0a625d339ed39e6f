import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { closeDb, createModelVersion, getDb, listModels, startEmbeddedRegistry } from './index.ts';

describe('embedded registry (local mode)', () => {
  let root: string | undefined;
  afterAll(async () => {
    await closeDb();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  it('initialises, migrates, serves queries, and restarts on the same data dir', async () => {
    // Under /tmp so that the postgres user can reach it when the tests run as root.
    root = await mkdtemp(join(tmpdir(), 'cmbn-embedded-'));
    await chmod(root, 0o755);
    const dataDir = join(root, 'postgres');

    const first = await startEmbeddedRegistry({ dataDir });
    try {
      expect(first.url).toMatch(/^postgresql:\/\/postgres:.+@127\.0\.0\.1:\d+\/cmbn$/);
      getDb(first.url);
      const v = await createModelVersion({
        name: 'local',
        metrics: {},
        signature: {},
        datasetSha256: 'd'.repeat(64),
        mbnModelHash: 'e'.repeat(64),
        params: {},
        backend: 'cpu',
      });
      expect(v.version).toBe(1);
    } finally {
      await first.stop();
    }

    // Second start: no initdb, migrations already applied, data kept.
    const second = await startEmbeddedRegistry({ dataDir });
    try {
      getDb(second.url);
      expect((await listModels()).map((m) => m.name)).toEqual(['local']);
    } finally {
      await second.stop();
    }
  });
});
