/**
 * Helpers of the coordinator's integration tests: real Redis, a fresh Postgres database, real
 * worker child processes. Every wait has a deadline; nothing sleeps a fixed time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { loadDataset } from '@cmbn/data';
import { trainMbn, type TMbnParamsInput } from '@cmbn/mbn';
import { createTestDatabase, type TestDatabase } from '@cmbn/registry';
import { startCoordinator, type CoordinatorHandle, type StartCoordinatorOptions } from './coordinator.ts';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const WORKER_MAIN = fileURLToPath(new URL('../../worker/src/main.ts', import.meta.url));
const COORDINATOR_MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

export function uniquePrefix(): string {
  return `cmbntest-${randomBytes(5).toString('hex')}`;
}

export interface TempArtifacts {
  dir: string;
  url: string;
  remove(): Promise<void>;
}

export async function tempArtifacts(): Promise<TempArtifacts> {
  const dir = await mkdtemp(join(tmpdir(), 'cmbn-artifacts-'));
  return { dir, url: pathToFileURL(dir).href, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** The sha256 of every object in a file:// store's tree, sorted. */
export async function storedObjects(dir: string): Promise<string[]> {
  const root = join(dir, 'sha256');
  const out: string[] = [];
  for (const d of await readdir(root).catch(() => [])) for (const f of await readdir(join(root, d))) out.push(d + f);
  return out.sort();
}

/** A TCP port on 127.0.0.1 that nothing listened on a moment ago. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Deletes every Redis key under the test's prefix. */
export async function dropPrefix(prefix: string): Promise<void> {
  const r = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

/**
 * Removes what a test file made, in this order: its in-process coordinator, its database, its
 * store, then its Redis keys. What it never made (a beforeAll that failed first) is skipped.
 */
export async function tearDown(made: { coordinator?: { close(): Promise<unknown> }; db?: TestDatabase; artifacts?: TempArtifacts; prefix: string }): Promise<void> {
  const problems = await made.coordinator?.close();
  // The coordinator's logger is silent in tests: a close step that overran or failed is said here,
  // so a slow teardown names what it waited on (close-steps.ts).
  if (Array.isArray(problems) && problems.length > 0) process.stderr.write(`coordinator close (${made.prefix}): ${JSON.stringify(problems)}\n`);
  await made.db?.drop();
  await made.artifacts?.remove();
  await dropPrefix(made.prefix);
}

export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** `cmbn …` as a child process (the CLI's bin); resolves with its exit code and output. */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, [join(REPO_ROOT, 'apps/cli/bin/cmbn.js'), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`cmbn ${args.join(' ')} timed out after ${timeoutMs} ms:\n${stderr.slice(-2000)}`));
    }, timeoutMs);
    proc.once('exit', (code) => {
      clearTimeout(t);
      live.delete(proc);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface Child {
  proc: ChildProcess;
  output: () => string;
  /** Resolves with the first log line matching. */
  waitFor(re: RegExp, timeoutMs: number): Promise<string>;
  exited: Promise<number | null>;
}

const live = new Set<ChildProcess>();
// A test process that dies (timeout, crash) takes its workers and coordinators with it.
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

function startChild(entry: string, env: Record<string, string>): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: REPO_ROOT,
    env: { ...process.env, LOG_LEVEL: process.env.CMBN_TEST_CHILD_LOG ?? 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  const onData = (b: Buffer) => {
    out += b.toString();
    for (const w of [...waiters]) {
      const line = out.split('\n').find((l) => w.re.test(l));
      if (line) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  live.add(proc);
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => {
      live.delete(proc);
      resolve(code);
    }),
  );
  return {
    proc,
    output: () => out,
    exited,
    waitFor(re, timeoutMs) {
      const line = out.split('\n').find((l) => re.test(l));
      if (line) return Promise.resolve(line);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`timed out waiting for ${re} in:\n${out.slice(-2000)}`)), timeoutMs);
        waiters.push({ re, resolve: (l) => (clearTimeout(t), resolve(l)) });
        void exited.then((code) => reject(new Error(`process exited (${code}) before ${re}:\n${out.slice(-2000)}`)));
      });
    },
  };
}

export interface WorkerEnv {
  prefix: string;
  artifacts: string;
  concurrency?: number;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  testDelayMs?: number;
  /** The registry database distill jobs write to. */
  databaseUrl?: string;
  /** Anything else (e.g. CMBN_WORKER_TEST_DISTILL_CRASH, CMBN_DISTILL_LOCK_DURATION_MS). */
  env?: Record<string, string>;
}

/** A real `cmbn worker` process, not waited for: for a start-up that must not finish yet. */
export function startWorkerChild(o: WorkerEnv): Child {
  return startChild(WORKER_MAIN, {
    REDIS_URL,
    CMBN_QUEUE_PREFIX: o.prefix,
    CMBN_ARTIFACTS: o.artifacts,
    CMBN_WORKER_CONCURRENCY: String(o.concurrency ?? 1),
    CMBN_LOCK_DURATION_MS: String(o.lockDurationMs ?? 30_000),
    CMBN_STALLED_INTERVAL_MS: String(o.stalledIntervalMs ?? 30_000),
    CMBN_WORKER_TEST_DELAY_MS: String(o.testDelayMs ?? 0),
    ...(o.databaseUrl ? { DATABASE_URL: o.databaseUrl } : {}),
    ...o.env,
  });
}

/** A real `cmbn worker` process; resolves once it logged its backend (connected and ready). */
export async function spawnWorker(o: WorkerEnv): Promise<Child> {
  const c = startWorkerChild(o);
  try {
    await c.waitFor(/worker ready/, 60_000);
  } catch (err) {
    c.proc.kill('SIGKILL'); // never leave a half-started worker behind
    throw err;
  }
  return c;
}

/** A real coordinator process, not waited for: for a start-up that must not finish. */
export function startCoordinatorChild(env: Record<string, string>): Child {
  return startChild(COORDINATOR_MAIN, { REDIS_URL, PORT: '0', HOST: '127.0.0.1', ...env });
}

/** A real coordinator process; resolves with its URL once it listens. */
export async function spawnCoordinator(env: Record<string, string>): Promise<Child & { url: string }> {
  const c = startCoordinatorChild(env);
  const line = await c.waitFor(/listening on port \d+/, 60_000).catch((err: unknown) => {
    c.proc.kill('SIGKILL');
    throw err;
  });
  const port = /listening on port (\d+)/.exec(line)![1];
  return Object.assign(c, { url: `http://127.0.0.1:${port}` });
}

export async function stop(c: Child, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return c.proc.exitCode;
  c.proc.kill(signal);
  return c.exited;
}

export interface Api {
  (path: string, init?: RequestInit): Promise<Response>;
  // Test assertions read arbitrary response fields.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json<T = any>(path: string, init?: RequestInit): Promise<{ status: number; body: T }>;
}

export function api(baseUrl: string | (() => string), token?: string): Api {
  const base = () => (typeof baseUrl === 'function' ? baseUrl() : baseUrl);
  const call = (path: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (token && !headers.has('authorization')) headers.set('authorization', `Bearer ${token}`);
    return fetch(`${base()}${path}`, { ...init, headers });
  };
  return Object.assign(call, {
    async json(path: string, init?: RequestInit) {
      const res = await call(path, init);
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
  });
}

export function upload(a: Api, bytes: Uint8Array, query: string) {
  return a.json(`/v1/datasets?${query}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
}

export function submit(a: Api, body: unknown) {
  return a.json('/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

export async function waitForRun(a: Api, id: string, timeoutMs: number, want: string[] = ['SUCCEEDED', 'FAILED', 'CANCELLED']) {
  return until(
    `run ${id} to reach ${want.join('/')}`,
    async () => {
      const r = await a.json(`/v1/runs/${id}`);
      return want.includes(r.body?.status) ? r.body : undefined;
    },
    timeoutMs,
    150,
  );
}

/** What a fixture's beforeAll made, or an error naming it when a test reads it too early. */
function madeBy<T>(fixture: string, v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`${fixture}: ${what} is read before beforeAll made it`);
  return v;
}

/** What useTestCoordinator sets up for a test file; read it inside tests and hooks (after beforeAll). */
export interface TestCoordinator {
  readonly db: TestDatabase;
  readonly artifacts: TempArtifacts;
  readonly coordinator: CoordinatorHandle;
  /** A client of the coordinator's API, without a token. */
  readonly a: Api;
  readonly prefix: string;
  /** The workers spawnWorker started (alive or not). */
  readonly workers: readonly Child[];
  /** A worker process on this coordinator's queues and store, SIGKILLed after the file's tests. */
  spawnWorker(o?: Omit<WorkerEnv, 'prefix' | 'artifacts'>): Promise<Child>;
}

/**
 * The fixture of the coordinator's integration tests: a fresh Postgres database, a temporary
 * file:// store, an in-process coordinator under a unique queue prefix (quiet logs, fast
 * reconcile, `options` on top) created in beforeAll; the workers it spawned, the coordinator, the
 * database, the store and the Redis keys removed in afterAll, whatever failed.
 */
export function useTestCoordinator(options: { maxUploadBytes: number } & Partial<Omit<StartCoordinatorOptions, 'databaseUrl' | 'artifacts' | 'prefix'>>): TestCoordinator {
  const prefix = uniquePrefix();
  const workers: Child[] = [];
  let db: TestDatabase | undefined;
  let artifacts: TempArtifacts | undefined;
  let coordinator: CoordinatorHandle | undefined;
  let a: Api | undefined;
  const ready = <T>(v: T | undefined, what: string): T => madeBy('useTestCoordinator', v, what);
  beforeAll(async () => {
    [db, artifacts] = await Promise.all([createTestDatabase(), tempArtifacts()]);
    coordinator = await startCoordinator({
      redisUrl: REDIS_URL,
      port: 0,
      reconcileIntervalMs: 1_000,
      logger: pino({ level: process.env.CMBN_TEST_LOG ?? 'silent' }),
      // Within the teardown hook's 120 s whatever hangs (each of the close's steps is bounded).
      closeStepTimeoutMs: 15_000,
      ...options,
      databaseUrl: db.url,
      artifacts: artifacts.url,
      prefix,
    });
    a = api(coordinator.url);
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => stop(w, 'SIGKILL')));
    await tearDown({ coordinator, db, artifacts, prefix });
  });
  return {
    get db() {
      return ready(db, 'db');
    },
    get artifacts() {
      return ready(artifacts, 'artifacts');
    },
    get coordinator() {
      return ready(coordinator, 'coordinator');
    },
    get a() {
      return ready(a, 'a');
    },
    prefix,
    workers,
    async spawnWorker(o = {}) {
      const w = await spawnWorker({ ...o, prefix, artifacts: ready(artifacts, 'artifacts').url });
      workers.push(w);
      return w;
    },
  };
}

/** What useRestartTest sets up for a test file; read it inside tests (after beforeAll). */
export interface RestartTest {
  readonly db: TestDatabase;
  readonly prefix: string;
  /** The processes the tests started (alive or not), SIGKILLed after the file's tests. */
  readonly children: Child[];
  /**
   * A run to kill the coordinator under: MNIST's first 400 training images, the model trainMbn
   * makes of them in-process with `params` (whose modelHash the run must end with), a coordinator
   * process on this file's database, store and queues (reconciling every 500 ms, 3 s job locks, so
   * that a restart is noticed within seconds; `env` on top) and a worker that waits 250 ms per
   * shard, so that the run is still going when the coordinator dies. Both are in `children`;
   * `env` is the coordinator's, to start the next one with.
   */
  startSlowRun(
    params: TMbnParamsInput,
    env?: Record<string, string>,
  ): Promise<{ env: Record<string, string>; ds: Awaited<ReturnType<typeof loadDataset>>; local: Awaited<ReturnType<typeof trainMbn>>; first: Child & { url: string } }>;
}

/**
 * The fixture of the tests that restart a coordinator process: a fresh Postgres database, a
 * temporary file:// store and a unique queue prefix made in beforeAll; the processes the tests
 * started, the database, the store and the Redis keys removed in afterAll, whatever failed.
 */
export function useRestartTest(): RestartTest {
  const prefix = uniquePrefix();
  const children: Child[] = [];
  let db: TestDatabase | undefined;
  let artifacts: TempArtifacts | undefined;
  const ready = <T>(v: T | undefined, what: string): T => madeBy('useRestartTest', v, what);
  beforeAll(async () => {
    [db, artifacts] = await Promise.all([createTestDatabase(), tempArtifacts()]);
  });
  afterAll(async () => {
    await Promise.all(children.map((c) => stop(c, 'SIGKILL')));
    await tearDown({ db, artifacts, prefix });
  });
  return {
    get db() {
      return ready(db, 'db');
    },
    prefix,
    children,
    async startSlowRun(params, extra = {}) {
      const store = ready(artifacts, 'artifacts');
      const env = {
        DATABASE_URL: ready(db, 'db').url,
        CMBN_ARTIFACTS: store.url,
        CMBN_QUEUE_PREFIX: prefix,
        CMBN_RECONCILE_INTERVAL_MS: '500',
        CMBN_LOCK_DURATION_MS: '3000',
        CMBN_STALLED_INTERVAL_MS: '1000',
        LOG_LEVEL: 'warn',
        ...extra,
      };
      const ds = await loadDataset('mnist-train', { limit: 400 });
      const [local, first, worker] = await Promise.all([
        trainMbn(ds.x, params, { threads: 1 }),
        spawnCoordinator(env),
        spawnWorker({ prefix, artifacts: store.url, testDelayMs: 250 }),
      ]);
      children.push(first, worker);
      return { env, ds, local, first };
    },
  };
}
