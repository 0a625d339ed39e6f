/**
 * A private Postgres and a private Redis for fault tests: each test can stop, kill and restart its
 * own without touching the machine's shared services. Postgres runs as user `postgres` (initdb
 * refuses root); Redis keeps an append-only file so a SIGKILLed server restarts with its data.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis, ReplyError } from 'ioredis';
import { until } from './test-helpers.ts';

const run = promisify(execFile);
const PG_BIN = '/usr/lib/postgresql/15/bin';

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function asPostgres(cmd: string, args: string[]): Promise<string> {
  const asRoot = process.getuid?.() === 0;
  const r = asRoot ? await run('runuser', ['-u', 'postgres', '--', join(PG_BIN, cmd), ...args]) : await run(join(PG_BIN, cmd), args);
  return r.stdout + r.stderr;
}

export interface PrivatePostgres {
  port: number;
  /** Admin URL (database `postgres`), for createTestDatabase({ adminUrl }). */
  adminUrl: string;
  start(): Promise<void>;
  /** `pg_ctl stop -m immediate`: no shutdown checkpoint, every connection cut (a crash, for clients). */
  stopImmediate(): Promise<void>;
  remove(): Promise<void>;
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = await mkdtemp(join(tmpdir(), 'cmbn-pg-'));
  await chmod(dir, 0o755);
  if (process.getuid?.() === 0) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const data = join(dir, 'data');
  const port = await freePort();
  await asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const pg: PrivatePostgres = {
    port,
    adminUrl: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    async start() {
      await asPostgres('pg_ctl', ['-D', data, '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, '-l', join(dir, 'log'), '-w', 'start']);
    },
    async stopImmediate() {
      await asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    },
    async remove() {
      await asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']).catch(() => '');
      await rm(dir, { recursive: true, force: true });
    },
  };
  await pg.start();
  return pg;
}

export interface PrivateRedis {
  port: number;
  url: string;
  start(): Promise<void>;
  /** SIGKILL: the server dies without a final write; it restarts from its append-only file. */
  kill(): Promise<void>;
  /** SIGSTOP: connections stay open and nothing answers (a hung server); kill() still ends it. */
  freeze(): void;
  remove(): Promise<void>;
}

/** `args` are added to redis-server's command line (e.g. --requirepass, --rename-command). */
export async function startPrivateRedis(args: string[] = []): Promise<PrivateRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'cmbn-redis-'));
  const port = await freePort();
  let proc: ChildProcess | undefined;
  const url = `redis://127.0.0.1:${port}`;
  const r: PrivateRedis = {
    port,
    url,
    async start() {
      proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--dir', dir, '--save', '', ...args], { stdio: 'ignore' });
      const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
      probe.on('error', () => {});
      // An error answer (NOAUTH from a server with --requirepass) is an answer: the server is up.
      const answers = async (): Promise<boolean> => (await probe.ping().catch((err: unknown) => (err instanceof ReplyError ? 'PONG' : Promise.reject(err)))) === 'PONG';
      try {
        await until('private redis to answer', answers, 20_000, 50);
      } finally {
        probe.disconnect();
      }
    },
    async kill() {
      const p = proc;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((res) => p.once('exit', res));
      p.kill('SIGKILL');
      await exited;
    },
    freeze() {
      proc?.kill('SIGSTOP');
    },
    async remove() {
      await r.kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
  await r.start();
  return r;
}
