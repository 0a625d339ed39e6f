/**
 * Registry-backed serving against a real Postgres database and artifact store: a pulled directory
 * and a fixed version serve the registry's bytes, and `cmbn serve models:/NAME@ALIAS` (the real
 * CLI, one process and --workers 2) follows an alias move under concurrent load with no failed
 * request, answering with the old version's predictions until the swap and the new one's after.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { get } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { FileArtifactStore } from '@cmbn/artifacts';
import { encodeNpy, loadDataset, type Matrix } from '@cmbn/data';
import { loadStudent } from '@cmbn/distill';
import { createPrismaRegistry, createStudentLabeler, publishStudent, pullStudent, type PublishedStudent } from '@cmbn/pipeline';
import { createTestDatabase, getDb, setAlias, type TestDatabase } from '@cmbn/registry';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registrySource } from './model-source.ts';
import { startServe } from './serve.ts';
import { saveLabelsStudent } from './test-students.ts';

const CLI = resolve(import.meta.dirname, '../../../apps/cli/bin/cmbn.js');
const lineage = { runId: null, datasetSha256: 'd'.repeat(64), mbnModelHash: 'e'.repeat(64), params: { V: 20 }, backend: 'wasm' };
const logger = pino({ level: 'silent' });

let db: TestDatabase;
let root: string;
let store: FileArtifactStore;
let digits: Matrix;
let npy: Buffer;
const published: PublishedStudent[] = [];
/** The in-process labels of versions 1 and 2 on `digits`. */
const expected: number[][] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  getDb(db.url);
  root = await mkdtemp(join(tmpdir(), 'cmbn-serve-alias-'));
  store = new FileArtifactStore(join(root, 'artifacts'));
  digits = (await loadDataset('mnist-test', { limit: 16 })).x;
  npy = Buffer.from(encodeNpy(digits));
  for (const seed of [1, 2]) {
    const dir = join(root, `student-${seed}`);
    await saveLabelsStudent(dir, seed);
    published.push(await publishStudent({ studentDir: dir, name: 'digits', store, lineage, metrics: { agreement: 0.9 } }));
    const ref = await createStudentLabeler(await loadStudent(dir), { threads: 1 });
    expected.push(Array.from((await ref.predict(digits)).labels));
    await ref.dispose();
  }
  expect(published.map((p) => p.version)).toEqual([1, 2]);
  // The two versions must be told apart by their answers.
  expect(expected[0]).not.toEqual(expected[1]);
});
afterAll(async () => {
  await db?.drop();
  await rm(root, { recursive: true, force: true });
});

describe('registry versions served in-process', () => {
  it('a pulled directory reports the registry artifact sha256 of its version', async () => {
    const dir = join(root, 'pulled');
    await pullStudent({ ref: 'digits:1', outDir: dir, store });
    const s = await startServe({ model: { dir }, host: '127.0.0.1', port: 0, workers: 1, maxBodyBytes: 1 << 20, pollIntervalMs: 1000, threads: 1, logger });
    try {
      expect(await (await fetch(`${s.url}/version`)).json()).toMatchObject({ artifactSha256: published[0]!.artifactSha256, model: dir });
      const res = await fetch(`${s.url}/invocations`, { method: 'POST', headers: { 'content-type': 'application/x-npy' }, body: npy });
      expect(await res.json()).toEqual({ predictions: expected[0] });
    } finally {
      await s.close();
    }
  });

  it('models:/digits/2 serves version 2 by number', async () => {
    const s = await startServe({
      model: { source: registrySource('digits:2', createPrismaRegistry({ store })), follow: false, uri: 'models:/digits/2' },
      host: '127.0.0.1', port: 0, workers: 1, maxBodyBytes: 1 << 20, pollIntervalMs: 1000, threads: 1, logger,
    });
    try {
      expect(await (await fetch(`${s.url}/version`)).json()).toMatchObject({ name: 'digits', version: 2, model: 'digits:2', artifactSha256: published[1]!.artifactSha256 });
    } finally {
      await s.close();
    }
  });
});

describe('a version that cannot be served', () => {
  it('is logged and skipped: the previous version keeps serving, and the next move is followed', async () => {
    const dir = join(root, 'student-3');
    await saveLabelsStudent(dir, 3);
    const v3 = await publishStudent({ studentDir: dir, name: 'digits', store, lineage, metrics: {} });
    const path = store.localPath(v3.artifactSha256);
    const bytes = await readFile(path);
    bytes[700] = bytes[700]! ^ 0xff;
    await writeFile(path, bytes);

    await setAlias('digits', 'canary', 1);
    const lines: Record<string, unknown>[] = [];
    const captured = pino({ level: 'info' }, { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) });
    const s = await startServe({
      model: { source: registrySource('digits@canary', createPrismaRegistry({ store })), follow: true, uri: 'models:/digits@canary' },
      host: '127.0.0.1', port: 0, workers: 1, maxBodyBytes: 1 << 20, pollIntervalMs: 100, threads: 1, logger: captured,
    });
    try {
      expect(await version(s.url)).toMatchObject({ version: 1 });
      await setAlias('digits', 'canary', v3.version);
      const warn = await until('the refusal in the log', async () => lines.find((l) => l.level === 40));
      expect(String(warn.err)).toMatch(new RegExp(`refusing to pull digits:${v3.version}: artifact sha256 mismatch`));
      expect(warn.msg).toMatch(/still serving digits:1/);
      expect(await version(s.url)).toMatchObject({ version: 1 });
      const res = await fetch(`${s.url}/invocations`, { method: 'POST', headers: { 'content-type': 'application/x-npy' }, body: npy });
      expect(await res.json()).toEqual({ predictions: expected[0] });

      await setAlias('digits', 'canary', 2);
      await until('version 2', async () => ((await version(s.url)).version === 2 ? true : undefined));
    } finally {
      await s.close();
    }
  });
});

describe('cmbn serve refuses what it cannot serve, with one line and a non-zero exit', () => {
  it.concurrent.each([
    [['models:/digits'], /missing @ALIAS or \/VERSION/],
    [['models:/digits@nope'], /alias digits@nope not found/],
    [['/nonexistent/student'], /not a student directory/],
    [['models:/digits/1', '--workers', '0'], /--workers must be an integer ≥ 1/],
  ])('%j', async (args, message) => {
    const child = spawn(process.execPath, [CLI, 'serve', ...args, '--port', '0'], {
      env: { ...process.env, DATABASE_URL: db.url, CMBN_ARTIFACTS: store.url, CMBN_HOME: join(root, 'home') },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code).not.toBe(0);
    expect(stderr).toMatch(message);
  });
});

interface Cli {
  child: ChildProcess;
  url: string;
  logs: Record<string, unknown>[];
  exited: Promise<number | null>;
}

async function startCli(args: string[]): Promise<Cli> {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], {
    env: { ...process.env, DATABASE_URL: db.url, CMBN_ARTIFACTS: store.url, CMBN_HOME: join(root, 'home') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const url = await new Promise<string>((ok, fail) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const rec = JSON.parse(line) as Record<string, unknown>;
      logs.push(rec);
      if (typeof rec.url === 'string') ok(rec.url);
    });
    void exited.then((code) => fail(new Error(`cmbn serve exited (${code}) before listening: ${stderr}`)));
  });
  return { child, url, logs, exited };
}

type VersionBody = { version: number; pid: number; artifactSha256: string };
const version = async (url: string) => (await (await fetch(`${url}/version`)).json()) as VersionBody;
/**
 * GET /version on a new TCP connection: node:cluster hands out connections, not requests, to the
 * worker processes, so reaching each of them takes several connections (fetch would reuse one).
 */
const versionFresh = (url: string) =>
  new Promise<VersionBody>((ok, fail) => {
    const req = get(`${url}/version`, { agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => ok(JSON.parse(body) as VersionBody));
    });
    req.on('timeout', () => req.destroy(new Error('GET /version timed out')));
    req.on('error', fail);
  });

/**
 * `concurrency` loops posting the 16 digits as npy until stop(); every answer is recorded as the
 * version whose predictions it equals (1 or 2), or as a failure with its status and body.
 */
function load(url: string, concurrency: number) {
  /** `sentAt` when the request was sent, `at` when its answer was complete. */
  const answers: { sentAt: number; at: number; version: number }[] = [];
  const failures: string[] = [];
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      const sentAt = performance.now();
      try {
        const res = await fetch(`${url}/invocations`, { method: 'POST', headers: { 'content-type': 'application/x-npy' }, body: npy });
        const text = await res.text();
        const p = res.status === 200 ? JSON.stringify((JSON.parse(text) as { predictions: number[] }).predictions) : '';
        const v = p === JSON.stringify(expected[0]) ? 1 : p === JSON.stringify(expected[1]) ? 2 : 0;
        if (v === 0) failures.push(`${res.status} ${text.slice(0, 200)}`);
        else answers.push({ sentAt, at: performance.now(), version: v });
      } catch (err) {
        failures.push(String(err));
      }
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  return {
    answers,
    failures,
    stop: async () => {
      stopped = true;
      await Promise.all(loops);
    },
  };
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const end = performance.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.each([1, 2])('cmbn serve models:/digits@champion --workers %i', (workers) => {
  let cli: Cli | undefined;
  afterAll(async () => {
    if (cli && cli.child.exitCode === null) {
      cli.child.kill('SIGTERM');
      expect(await cli.exited).toBe(0);
    }
    await setAlias('digits', 'champion', 1);
  });

  it('follows an alias move under load with zero failed requests', async () => {
    await setAlias('digits', 'champion', 1);
    cli = await startCli(['models:/digits@champion', '--port', '0', '--poll-interval', '0.2', '--threads', '1', '--workers', String(workers)]);
    expect(await version(cli.url)).toMatchObject({ version: 1, artifactSha256: published[0]!.artifactSha256 });
    if (workers === 2) {
      // Both processes answer behind the one port.
      const pids = new Set<number>();
      await until('two server pids', async () => (pids.add((await versionFresh(cli!.url)).pid), pids.size === 2 ? true : undefined), 30_000);
    }

    const l = load(cli.url, 8);
    await until('100 answers before the move', async () => (l.answers.length >= 100 ? true : undefined));
    const movedAt = performance.now();
    await setAlias('digits', 'champion', 2);
    // Every process must have swapped: /version, asked enough times to reach each worker, says 2.
    await until('version 2 everywhere', async () => {
      const vs = await Promise.all(Array.from({ length: 4 * workers }, () => versionFresh(cli!.url)));
      return vs.every((v) => v.version === 2) ? true : undefined;
    });
    const swappedAt = performance.now();
    // Requests sent after the swap (a request in flight at the swap may finish after it with
    // version 1, however long load makes it take, so send times, not completion times).
    const late = () => l.answers.filter((a) => a.sentAt > swappedAt);
    await until('100 answers well after the swap', async () => (late().length >= 100 ? true : undefined));
    await l.stop();

    expect(l.failures).toEqual([]);
    expect(l.answers.filter((a) => a.at < movedAt).every((a) => a.version === 1)).toBe(true);
    expect(l.answers.some((a) => a.version === 2)).toBe(true);
    // A request sent after every process reported version 2 gets version 2's predictions.
    expect(late().every((a) => a.version === 2)).toBe(true);
    expect(cli.logs.some((r) => typeof r.msg === 'string' && /moved: now serving digits:2/.test(r.msg))).toBe(true);

    const metrics = await (await fetch(`${cli.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^cmbn_serve_workers ${workers}$`, 'm'));
    const ok = Number(/^cmbn_serve_requests_total\{route="\/invocations",status="200"\} (\d+)$/m.exec(metrics)?.[1]);
    // Summed over every process: at least the answers this test counted.
    expect(ok).toBeGreaterThanOrEqual(l.answers.length);
    expect(metrics).toMatch(/^cmbn_serve_model_info\{name="digits",version="2"\} 1$/m);

    if (workers === 2) {
      // A server process that dies is replaced, and the replacement serves the current version.
      const victim = (await versionFresh(cli.url)).pid;
      process.kill(victim, 'SIGKILL');
      await until('a replacement process at version 2', async () => {
        // A connection handed to the killed process just before the primary saw it die gets no
        // answer (the 5 s timeout): such connections are lost, which is why it is killed idle here.
        const vs = await Promise.all(Array.from({ length: 8 }, () => versionFresh(cli!.url).catch(() => undefined)));
        const fresh = vs.filter((v): v is VersionBody => v !== undefined && v.pid !== victim);
        return fresh.length === 8 && new Set(fresh.map((v) => v.pid)).size === 2 && fresh.every((v) => v.version === 2) ? true : undefined;
      });

      // A move delivered while a replacement is still starting reaches it too: killed, then the
      // alias moved while its successor boots (seconds), which must end up serving version 1 as
      // well, not the version it was started with.
      const replacements = () => cli!.logs.filter((r) => r.msg === 'a server process exited; starting a replacement').length;
      const before = replacements();
      const second = (await versionFresh(cli.url)).pid;
      process.kill(second, 'SIGKILL');
      await until('the kill seen by the primary', async () => (replacements() > before ? true : undefined));
      await setAlias('digits', 'champion', 1);
      await until('version 1 in every process, the replacement included', async () => {
        const vs = await Promise.all(Array.from({ length: 8 }, () => versionFresh(cli!.url).catch(() => undefined)));
        const fresh = vs.filter((v): v is VersionBody => v !== undefined && v.pid !== second);
        return fresh.length === 8 && new Set(fresh.map((v) => v.pid)).size === 2 && fresh.every((v) => v.version === 1) ? true : undefined;
      });
    }
    // Starting the CLI (tsx, Prisma's migrate deploy, the ONNX sessions) takes tens of seconds on 2 busy cores.
  }, 300_000);
});
