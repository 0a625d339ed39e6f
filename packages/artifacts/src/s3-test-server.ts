import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3StoreOptions } from './s3-config.ts';

/** s3rver's built-in account. It rejects any other access key id (InvalidAccessKeyId). */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface S3TestServer {
  /** `http://host:port`, stable across restart(). */
  readonly endpoint: string;
  readonly host: string;
  readonly port: number;
  /** s3rver's data directory; it survives restart() (objects persist), stop() removes it if we made it. */
  readonly dir: string;
  /** Store options that reach this server with valid credentials. */
  options(): S3StoreOptions;
  createBucket(name: string): Promise<void>;
  /** Kills the child (SIGKILL: a crash, not a shutdown) and starts it again on the same port and data. */
  restart(): Promise<void>;
  /** SIGKILL only: the server stays down (an outage) until start(). */
  kill(): Promise<void>;
  /** Starts a killed server again on the same address, port and data; waits until it answers. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartS3ServerOptions {
  /** Data directory (default: a fresh temp dir, removed by stop()). */
  dir?: string;
  /** Bind address (default 127.0.0.1; other suites pass a network-namespace address). */
  host?: string;
  /** Default: a free port picked now, kept across restarts. Required with `wrap` (the port is free inside the namespace, not here). */
  port?: number;
  buckets?: string[];
  /** Wrap the command, e.g. `['ip', 'netns', 'exec', 'ns1']`, to run the server inside a namespace. */
  wrap?: string[];
}

const READY_DEADLINE_MS = 20_000;

async function freePort(host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr !== null ? resolvePort(addr.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * s3rver's command line, through s3rver-atomic.mjs: the same server with S3's atomic replacement of
 * an object (s3rver rewrites an existing object in place, so a read racing a put of the same key
 * could see part of it; see that file).
 */
function s3rverBin(): string {
  // Resolved lazily: s3rver is a dev dependency, so production imports of this package never need it.
  const require = createRequire(import.meta.url);
  require.resolve('s3rver/package.json'); // a clear "Cannot find module 's3rver'" here, not in the child
  return fileURLToPath(new URL('./s3rver-atomic.mjs', import.meta.url));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Spawns s3rver as a child process (not in-process, so that fault tests can kill it, restart it,
 * or run it inside a network namespace), waits until it answers S3 requests and creates `buckets`.
 */
export async function startS3Server(opts: StartS3ServerOptions = {}): Promise<S3TestServer> {
  const host = opts.host ?? '127.0.0.1';
  // A namespace's address cannot be bound (or probed for a free port) from this process's namespace.
  if (opts.wrap !== undefined && opts.port === undefined) throw new Error('startS3Server: pass a port with wrap (a free port cannot be picked from outside the namespace)');
  const port = opts.port ?? (await freePort(host));
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'cmbn-s3rver-')));
  const endpoint = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const options = (): S3StoreOptions => ({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { ...S3RVER_CREDENTIALS } });
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    const argv = [process.execPath, s3rverBin(), '-d', dir, '-a', host, '-p', String(port), '--silent', '--no-vhost-buckets'];
    const [cmd, ...args] = [...(opts.wrap ?? []), ...argv];
    const proc = spawn(cmd!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    let exited: number | null | undefined;
    proc.once('exit', (code) => (exited = code));
    const client = new S3Client({ ...options(), maxAttempts: 1, requestHandler: { connectionTimeout: 1000, requestTimeout: 2000 } });
    try {
      const deadline = Date.now() + READY_DEADLINE_MS;
      for (;;) {
        if (exited !== undefined) throw new Error(`s3rver exited (${exited}) before answering: ${stderr.trim()}`);
        // Any HTTP answer means the server is up; only network errors mean "not yet".
        const up = await client
          .send(new ListBucketsCommand({}))
          .then(() => true)
          .catch((err: { $metadata?: { httpStatusCode?: number } }) => err.$metadata?.httpStatusCode !== undefined);
        if (up) break;
        if (Date.now() > deadline) throw new Error(`s3rver at ${endpoint} did not answer within ${READY_DEADLINE_MS} ms: ${stderr.trim()}`);
        await sleep(100);
      }
    } catch (err) {
      proc.kill('SIGKILL');
      throw err;
    } finally {
      client.destroy();
    }
  };

  const kill = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((r) => {
      proc.once('exit', () => r());
      proc.kill('SIGKILL');
    });
  };

  const createBucket = async (name: string): Promise<void> => {
    const client = new S3Client({ ...options(), maxAttempts: 2 });
    try {
      await client.send(new CreateBucketCommand({ Bucket: name })).catch((err: { name?: string }) => {
        if (err.name !== 'BucketAlreadyOwnedByYou' && err.name !== 'BucketAlreadyExists') throw err;
      });
    } finally {
      client.destroy();
    }
  };

  await launch();
  for (const b of opts.buckets ?? []) await createBucket(b);
  return {
    endpoint,
    host,
    port,
    dir,
    options,
    createBucket,
    restart: async () => {
      await kill();
      await launch();
    },
    kill,
    start: async () => {
      if (child !== undefined && child.exitCode === null && child.signalCode === null) return;
      await launch();
    },
    stop: async () => {
      await kill();
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
  };
}
