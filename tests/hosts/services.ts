/**
 * The services host: a private Redis with an append-only file, a private PostgreSQL migrated with
 * the documented `npm run db:migrate`, and an S3-protocol server (s3rver), each bound to the
 * services namespace's address and each restartable on the same data, so that faults are real
 * crashes of real servers.
 *
 * Access follows docs/DEPLOY.md's two-machine recipe: Redis is reachable from the network, so it
 * has a password (`--requirepass`, and the password in every REDIS_URL); Postgres takes bridge
 * connections only from the hosts named in `postgresClients` (the coordinator), since shard
 * workers never connect to it. The test process itself reaches Postgres over the cluster's Unix
 * socket (`localUrl`), the way an operator on machine A runs `npm run db:migrate` on loopback.
 */
import { execFile } from 'node:child_process';
import { appendFile, chmod, chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import pg from 'pg';
import { startS3Server, type S3TestServer } from '@cmbn/artifacts';
import type { Host } from './netns.ts';
import { REPO_ROOT, spawnOn, until, type Proc } from './procs.ts';

const exec = promisify(execFile);
const PG_BIN = '/usr/lib/postgresql/15/bin';
export const REDIS_PORT = 6379;
export const PG_PORT = 5432;
export const S3_PORT = 9000;
export const BUCKET = 'cmbn';

export interface HostRedis {
  /** redis://[:PASSWORD@]addr:6379, as every process that connects is given it. */
  url: string;
  start(): Promise<void>;
  /** SIGKILL: no final write; start() brings it back from its append-only file. */
  kill(): Promise<void>;
  stop(): Promise<void>;
  proc(): Proc | undefined;
}

/**
 * `aof: false` only for benches (they measure the network path, not persistence). `password`
 * (letters and digits, docs/DEPLOY.md) turns on `--requirepass`; it goes into `url` unescaped.
 */
export async function startRedisOn(host: Host, dir: string, opts: { aof?: boolean; password?: string } = {}): Promise<HostRedis> {
  await mkdir(dir, { recursive: true });
  const url = `redis://${opts.password === undefined ? '' : `:${opts.password}@`}${host.addr}:${REDIS_PORT}`;
  const auth = opts.password === undefined ? [] : ['--requirepass', opts.password];
  let p: Proc | undefined;
  const r: HostRedis = {
    url,
    proc: () => p,
    async start() {
      // appendfsync stays at Redis' default (everysec), as a production server would run it.
      p = spawnOn(host, 'redis', ['redis-server', '--bind', host.addr, '--port', String(REDIS_PORT), '--appendonly', opts.aof === false ? 'no' : 'yes', '--dir', dir, '--save', '', '--protected-mode', 'no', ...auth]);
      // Through `url`, password included: a probe without it would get NOAUTH, not PONG.
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 1000, retryStrategy: () => 100 });
      probe.on('error', () => {});
      try {
        await until(`redis on ${host.name} (${url}) to answer`, async () => {
          if (!p!.alive()) throw new Error(`redis-server exited: ${p!.output().slice(-1500)}`);
          return (await probe.ping()) === 'PONG';
        }, 20_000, 100);
      } catch (err) {
        await p.kill();
        throw err;
      } finally {
        probe.disconnect();
      }
    },
    kill: async () => p?.kill('SIGKILL'),
    stop: async () => p?.kill('SIGKILL'),
  };
  await r.start();
  return r;
}

export interface HostPostgres {
  /** postgresql://postgres@addr:5432/cmbn (migrated): over the bridge, accepted only from the allowed hosts. */
  url: string;
  /** The same database over the cluster's Unix socket: for the test process (root namespace) and db:migrate. */
  localUrl: string;
  start(): Promise<void>;
  /** `pg_ctl stop -m immediate`: every connection cut, crash recovery on the next start. */
  stopImmediate(): Promise<void>;
  stop(): Promise<void>;
}

async function asPostgres(host: Host, cmd: string, args: string[]): Promise<string> {
  try {
    const r = await exec(host.wrap[0]!, [...host.wrap.slice(1), 'runuser', '-u', 'postgres', '--', join(PG_BIN, cmd), ...args]);
    return r.stdout + r.stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} on ${host.name} failed: ${(e.stderr || e.stdout || e.message).trim()}`);
  }
}

/** `clients`: the only bridge addresses that may connect (docs/DEPLOY.md: Postgres stays closed to shard-worker hosts). */
export async function startPostgresOn(host: Host, dir: string, clients: readonly string[]): Promise<HostPostgres> {
  // initdb refuses to run as root: the cluster belongs to user postgres.
  await mkdir(dir, { recursive: true });
  const uid = Number((await exec('id', ['-u', 'postgres'])).stdout.trim());
  const gid = Number((await exec('id', ['-g', 'postgres'])).stdout.trim());
  await chown(dir, uid, gid);
  const data = join(dir, 'data');
  await asPostgres(host, 'initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  // initdb trusts only local (Unix socket) and loopback clients. Of the bridge, only the named
  // hosts; any other host (a worker's, the test's gateway) gets "no pg_hba.conf entry".
  await appendFile(join(data, 'pg_hba.conf'), `\n${clients.map((a) => `host all all ${a}/32 trust`).join('\n')}\n`);
  const url = `postgresql://postgres@${host.addr}:${PG_PORT}/cmbn`;
  // pg (and Prisma's pg adapter) read a `host` that is a directory as the socket's directory.
  const socketUrl = (db: string) => `postgresql://postgres@localhost:${PG_PORT}/${db}?host=${encodeURIComponent(dir)}`;
  const pgh: HostPostgres = {
    url,
    localUrl: socketUrl('cmbn'),
    async start() {
      // The socket directory is the cluster's own, so this server never collides with the machine's.
      await asPostgres(host, 'pg_ctl', ['-D', data, '-o', `-p ${PG_PORT} -k ${dir} -c listen_addresses=${host.addr}`, '-l', join(dir, 'log'), '-w', '-t', '60', 'start']);
    },
    async stopImmediate() {
      await asPostgres(host, 'pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    },
    async stop() {
      await asPostgres(host, 'pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => '');
    },
  };
  await pgh.start();
  const admin = new pg.Client({ connectionString: socketUrl('postgres') });
  await admin.connect();
  try {
    await admin.query('CREATE DATABASE cmbn');
  } finally {
    await admin.end();
  }
  await migrateWithDocumentedCommand(pgh.localUrl);
  return pgh;
}

/** `npm run db:migrate` with DATABASE_URL, exactly as docs/DEPLOY.md has an operator run it. */
export async function migrateWithDocumentedCommand(url: string): Promise<string> {
  try {
    const r = await exec('npm', ['run', '--silent', 'db:migrate'], { cwd: REPO_ROOT, env: { ...process.env, DATABASE_URL: url }, timeout: 180_000 });
    return r.stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`npm run db:migrate against ${url} failed: ${(e.stderr || e.stdout || e.message).trim()}`);
  }
}

export interface Services {
  redis: HostRedis;
  postgres: HostPostgres;
  s3: S3TestServer;
  /** The env every app on every host needs to reach the artifact store (docs/DEPLOY.md's variables). */
  s3Env(prefix: string): Record<string, string>;
  dir: string;
  stop(): Promise<void>;
}

export interface ServiceAccess {
  /** Redis' `--requirepass` (letters and digits). */
  redisPassword: string;
  /** Bridge addresses Postgres accepts (the coordinator's); every other host is refused. */
  postgresClients: readonly string[];
}

/** Starts all three on `host`; if one cannot start, the others are stopped and the error names it. */
export async function startServices(host: Host, access: ServiceAccess): Promise<Services> {
  const dir = await mkdtemp(join(tmpdir(), 'cmbn-hosts-services-'));
  await chmod(dir, 0o755); // user postgres must reach its cluster below it
  const started: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const s of started.reverse()) await s().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  };
  const step = async <T>(what: string, fn: () => Promise<T>, stop: (v: T) => Promise<void>): Promise<T> => {
    try {
      const v = await fn();
      started.push(() => stop(v));
      return v;
    } catch (err) {
      throw new Error(`service ${what} on host ${host.name} (${host.addr}) could not start: ${(err as Error).message}`);
    }
  };
  try {
    // Settled, not Promise.all: a service still starting when another fails must be stopped too.
    const settled = await Promise.allSettled([
      step('redis', () => startRedisOn(host, join(dir, 'redis'), { password: access.redisPassword }), (r) => r.stop()),
      step('postgres', () => startPostgresOn(host, join(dir, 'pg'), access.postgresClients), (p) => p.stop()),
      step('s3rver', () => mkdir(join(dir, 's3'), { recursive: true }).then(() => startS3Server({ host: host.addr, port: S3_PORT, dir: join(dir, 's3'), wrap: host.wrap, buckets: [BUCKET] })), (s) => s.stop()),
    ] as const);
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const [redis, postgres, s3] = settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as [HostRedis, HostPostgres, S3TestServer];
    return {
      redis,
      postgres,
      s3,
      dir,
      s3Env: (prefix) => ({
        CMBN_ARTIFACTS: `s3://${BUCKET}/${prefix}`,
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: s3.options().credentials!.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.options().credentials!.secretAccessKey,
        CMBN_S3_FORCE_PATH_STYLE: 'true',
      }),
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
