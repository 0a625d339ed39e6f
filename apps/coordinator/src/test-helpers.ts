/**
 * Helpers of the coordinator's integration tests: real Redis, a fresh Postgres database, real
 * worker child processes. Every wait has a deadline; nothing sleeps a fixed time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll } from 'vitest';
import { createTestDatabase, type TestDatabase } from '@cmbn/registry';
import { startCoordinator, type CoordinatorHandle, type StartCoordinatorOptions } from './coordinator.ts';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const WORKER_MAIN = fileURLToPath(new URL('../../worker/src/main.ts', import.meta.url));
const COORDINATOR_MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

export function uniquePrefix(): string {
  return `cmbntest-${randomBytes(5).toString('hex')}`;
}

export async function tempArtifacts(): Promise<{ dir: string; url: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'cmbn-artifacts-'));
  return { dir, url: pathToFileURL(dir).href, remove: () => rm(dir, { recursive: true, force: true }) };
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

/** A real `cmbn worker` process; resolves once it logged its backend (connected and ready). */
export async function spawnWorker(o: WorkerEnv): Promise<Child> {
  const c = startChild(WORKER_MAIN, {
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
  try {
    await c.waitFor(/worker ready/, 60_000);
  } catch (err) {
    c.proc.kill('SIGKILL'); // never leave a half-started worker behind
    throw err;
  }
  return c;
}

/** A real coordinator process; resolves with its URL once it listens. */
export async function spawnCoordinator(env: Record<string, string>): Promise<Child & { url: string }> {
  const c = startChild(COORDINATOR_MAIN, { REDIS_URL, PORT: '0', HOST: '127.0.0.1', ...env });
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

/** What useTestCoordinator sets up for a test file; read it inside tests and hooks (after beforeAll). */
export interface TestCoordinator {
  readonly db: TestDatabase;
  readonly artifacts: Awaited<ReturnType<typeof tempArtifacts>>;
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
  let artifacts: Awaited<ReturnType<typeof tempArtifacts>> | undefined;
  let coordinator: CoordinatorHandle | undefined;
  let a: Api | undefined;
  const ready = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`useTestCoordinator: ${what} is read before beforeAll made it`);
    return v;
  };
  beforeAll(async () => {
    [db, artifacts] = await Promise.all([createTestDatabase(), tempArtifacts()]);
    coordinator = await startCoordinator({
      redisUrl: REDIS_URL,
      port: 0,
      reconcileIntervalMs: 1_000,
      logger: pino({ level: process.env.CMBN_TEST_LOG ?? 'silent' }),
      ...options,
      databaseUrl: db.url,
      artifacts: artifacts.url,
      prefix,
    });
    a = api(coordinator.url);
  });
  afterAll(async () => {
    await Promise.all(workers.map((w) => stop(w, 'SIGKILL')));
    await coordinator?.close();
    await db?.drop();
    await artifacts?.remove();
    await dropPrefix(prefix);
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
