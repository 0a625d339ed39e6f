/**
 * The registry interface's contract, one test body run against both implementations over the same
 * database: createPrismaRegistry (Postgres directly) and httpRegistry (a real coordinator on that
 * database, with a token). Then `cmbn models …` local and `--remote` print the same.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import pino from 'pino';
import { FileArtifactStore } from '@cmbn/artifacts';
import { startCoordinator, type CoordinatorHandle } from '@cmbn/coordinator';
import { saveStudent, tinyStudent } from '@cmbn/distill';
import {
  NotAvailableOverHttpError,
  PipelineError,
  createPrismaRegistry,
  httpRegistry,
  publishStudent,
  pullStudent,
  type RegistryPort,
} from '@cmbn/pipeline';
import { RegistryError, createRun, createTestDatabase, registerDataset, setRunStatus, type TestDatabase } from '@cmbn/registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CLI = resolve(import.meta.dirname, '../../bin/cmbn.js');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const TOKEN = 'models-contract-token';
const prefix = `cmbn-models-test-${randomBytes(4).toString('hex')}`;
const lineage = { runId: null, datasetSha256: 'd'.repeat(64), mbnModelHash: 'e'.repeat(64), params: { V: 20 }, backend: 'wasm' };

let db: TestDatabase;
let root: string;
let artifactsDir: string;
let store: FileArtifactStore;
let coordinator: CoordinatorHandle;
const regs = {} as Record<'prisma' | 'http', RegistryPort>;
const KINDS = ['prisma', 'http'] as const;
/** The archives as published, by version of model `m`. */
const archives = new Map<number, Uint8Array>();
let cancelledRun: string;
let failedRun: string;


async function publish(name: string, seed: number, tags: Record<string, string> = {}) {
  const dir = join(root, `student-${name}-${seed}`);
  await saveStudent(tinyStudent(seed), dir, {});
  return publishStudent({ studentDir: dir, name, store, registry: regs.prisma, lineage, metrics: { agreement: 0.9 + seed / 100 }, tags });
}

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  proc.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((res) => proc.once('exit', (code) => res({ code, stdout, stderr })));
}

beforeAll(async () => {
  db = await createTestDatabase();
  root = await mkdtemp(join(tmpdir(), 'cmbn-models-contract-'));
  artifactsDir = join(root, 'artifacts');
  store = new FileArtifactStore(artifactsDir);
  // The coordinator opens the registry's Prisma client on db (getDb's singleton), which the Prisma
  // implementation then shares: both read and write the same rows.
  coordinator = await startCoordinator({
    databaseUrl: db.url,
    redisUrl: REDIS_URL,
    artifacts: pathToFileURL(artifactsDir).href,
    prefix,
    port: 0,
    apiToken: TOKEN,
    maxUploadBytes: 1 << 20,
    reconcileIntervalMs: 60_000,
    logger: pino({ level: 'silent' }),
  });
  regs.prisma = createPrismaRegistry({ store });
  regs.http = httpRegistry(coordinator.url, { token: TOKEN });

  // m:1 and m:2 READY, m:3 PENDING (a publish in flight), m@champion → 1.
  for (const seed of [1, 2]) {
    const p = await publish('m', seed, { team: seed === 1 ? 'vision' : 'speech' });
    archives.set(p.version, await store.get(p.artifactSha256));
  }
  await regs.prisma.createModelVersion({ name: 'm', metrics: {}, signature: {}, datasetSha256: 'd'.repeat(64), mbnModelHash: 'e'.repeat(64), params: {}, backend: 'wasm' });
  await regs.prisma.setAlias('m', 'champion', 1);

  const ds = await registerDataset({ sha256: 'f'.repeat(64), name: 'contract', format: 'csv', rows: 1, cols: 1, dtype: 'float32', bytes: 1 });
  cancelledRun = (await createRun({ datasetId: ds.id, params: {}, ks: [2], seed: 0 })).id;
  await setRunStatus(cancelledRun, 'CANCELLED');
  failedRun = (await createRun({ datasetId: ds.id, params: {}, ks: [2], seed: 0 })).id;
  await setRunStatus(failedRun, 'FAILED', { error: 'test' });
}, 120_000);

afterAll(async () => {
  await coordinator?.close();
  await db?.drop();
  if (root) await rm(root, { recursive: true, force: true });
  const r = new Redis(REDIS_URL);
  const keys = await r.keys(`${prefix}:*`);
  if (keys.length > 0) await r.del(...keys);
  r.disconnect();
});

/** What a rejected call threw: its class, code and message. */
async function failure(p: Promise<unknown>): Promise<{ class: string; code: unknown; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as Error & { code?: unknown };
    return { class: e.constructor.name, code: e.code, message: e.message };
  }
  throw new Error('expected a rejection');
}

describe.each(KINDS)('the %s registry', (kind) => {
  const reg = () => regs[kind];

  it('resolves NAME (latest READY), NAME@ALIAS and NAME:VERSION, and refuses what is not READY or not there', async () => {
    expect(await reg().resolveModelRef('m')).toMatchObject({ modelName: 'm', version: 2, status: 'READY' });
    expect(await reg().resolveModelRef('m@champion')).toMatchObject({ modelName: 'm', version: 1, status: 'READY' });
    const v1 = await reg().resolveModelRef('m:1');
    expect(v1).toMatchObject({ version: 1, artifactSha256: expect.stringMatching(/^[0-9a-f]{64}$/), artifactBytes: archives.get(1)!.byteLength });
    expect(v1.createdAt).toBeInstanceOf(Date);
    expect(v1.readyAt).toBeInstanceOf(Date);

    await expect(reg().resolveModelRef('nope')).rejects.toBeInstanceOf(RegistryError);
    expect(await failure(reg().resolveModelRef('nope'))).toEqual({ class: 'RegistryError', code: 'NOT_FOUND', message: 'model nope has no READY version' });
    expect(await failure(reg().resolveModelRef('m@nobody'))).toEqual({ class: 'RegistryError', code: 'NOT_FOUND', message: 'alias m@nobody not found' });
    expect(await failure(reg().resolveModelRef('m:9'))).toEqual({ class: 'RegistryError', code: 'NOT_FOUND', message: 'model version m:9 not found' });
    expect(await failure(reg().resolveModelRef('m:3'))).toEqual({ class: 'RegistryError', code: 'CONFLICT', message: 'm:3 is PENDING, not READY' });
    expect(await failure(reg().resolveModelRef('bad name!'))).toMatchObject({ class: 'RegistryError', code: 'INVALID' });
  });

  it('lists models, shows one, reads and searches versions, and reads an alias history', async () => {
    const list = await reg().listModels();
    expect(list.map((x) => x.name)).toEqual([...list.map((x) => x.name)].sort());
    expect(list.find((x) => x.name === 'm')).toMatchObject({ name: 'm', latestVersion: 3, aliases: { champion: 1 }, description: null });
    expect(list[0]!.createdAt).toBeInstanceOf(Date);
    const m = await reg().getModel('m');
    expect(m.versions.map((v) => [v.version, v.status])).toEqual([
      [1, 'READY'],
      [2, 'READY'],
      [3, 'PENDING'],
    ]);
    expect(await failure(reg().getModel('nope'))).toEqual({ class: 'RegistryError', code: 'NOT_FOUND', message: 'model nope not found' });
    expect(await reg().getVersion('m', 2)).toMatchObject({ version: 2, tags: { team: 'speech' }, metrics: { agreement: 0.92 } });
    expect(await failure(reg().getVersion('m', 7))).toMatchObject({ class: 'RegistryError', code: 'NOT_FOUND' });

    const ready = await reg().searchVersions({ name: 'm', status: 'READY', pageSize: 1 });
    expect(ready.versions.map((v) => v.version)).toEqual([2]);
    expect(ready.nextPageToken).not.toBeNull();
    const next = await reg().searchVersions({ name: 'm', status: 'READY', pageSize: 1, pageToken: ready.nextPageToken! });
    expect(next.versions.map((v) => [v.version, v.aliases])).toEqual([[1, ['champion']]]);
    expect((await reg().searchVersions({ name: 'm', tags: ['team=vision'], metrics: [{ name: 'agreement', min: 0.905 }] })).versions.map((v) => v.version)).toEqual([1]);
    expect(await failure(reg().searchVersions({ name: 'm', pageToken: 'garbage' }))).toMatchObject({ class: 'RegistryError', code: 'INVALID' });

    const h = await reg().aliasHistory('m', 'champion');
    expect(h).toMatchObject({ current: 1, events: [{ modelName: 'm', alias: 'champion', action: 'set', version: 1, previousVersion: null, principal: 'local' }] });
    expect(h.events[0]!.at).toBeInstanceOf(Date);
    expect(await failure(reg().aliasHistory('m', 'nobody'))).toMatchObject({ class: 'RegistryError', code: 'NOT_FOUND' });
  });

  it("fetches a version's archive: exactly the published bytes, verified against the record", async () => {
    for (const ref of ['m:1', 'm@champion', 'm']) {
      const a = await reg().fetchArtifact(ref);
      expect(Buffer.from(a.bytes).equals(Buffer.from(archives.get(a.version.version)!)), ref).toBe(true);
    }
    expect((await reg().fetchArtifact('m')).version.version).toBe(2);
    expect(await failure(reg().fetchArtifact('nope'))).toMatchObject({ class: 'RegistryError', code: 'NOT_FOUND' });
    const out = join(root, `pulled-${kind}`);
    const p = await pullStudent({ ref: 'm@champion', outDir: out, registry: reg() });
    expect(p).toMatchObject({ name: 'm', version: 1, dir: out });
    expect((await readdir(out)).sort()).toEqual(expect.arrayContaining(['model.json', 'student.json']));
  });

  it('refuses a tampered archive with the same error class and code', async () => {
    const p = await publish(`tamper-${kind}`, 3);
    const path = store.localPath(p.artifactSha256);
    const bytes = await readFile(path);
    bytes[600] = bytes[600]! ^ 0xff;
    await writeFile(path, bytes);
    const f = await failure(reg().fetchArtifact(`tamper-${kind}:1`));
    expect(f).toMatchObject({ class: 'PipelineError', code: 'ARTIFACT_MISMATCH', message: expect.stringContaining(`tamper-${kind}:1`) });
    await expect(reg().fetchArtifact(`tamper-${kind}:1`)).rejects.toBeInstanceOf(PipelineError);
  });

  it('moves, rolls back and deletes an alias, recorded under its principal', async () => {
    const principal = kind === 'http' ? 'default' : 'local';
    const alias = `a-${kind}`;
    expect(await reg().setAlias('m', alias, 1)).toMatchObject({ name: 'm', alias, version: 1, previousVersion: null, event: { modelName: 'm', action: 'set', principal } });
    expect(await reg().setAlias('m', alias, 2)).toMatchObject({ version: 2, previousVersion: 1 });
    expect(await reg().rollbackAlias('m', alias)).toMatchObject({ version: 1, previousVersion: 2, event: { action: 'rollback', principal } });
    expect(await failure(reg().setAlias('m', alias, 3))).toMatchObject({ class: 'RegistryError', code: 'CONFLICT' });
    const d = await reg().deleteAlias('m', alias);
    expect(d).toMatchObject({ modelName: 'm', alias, action: 'delete', version: null, previousVersion: 1, principal });
    expect(d.at).toBeInstanceOf(Date);
    expect((await reg().aliasHistory('m', alias)).current).toBeNull();
    expect(await failure(reg().deleteAlias('m', alias))).toMatchObject({ class: 'RegistryError', code: 'NOT_FOUND' });
  });

  it('deletes a version (not an aliased one) and sweeps', async () => {
    const name = `del-${kind}`;
    const p = await publish(name, 4);
    await reg().setAlias(name, 'prod', 1);
    expect(await failure(reg().deleteVersion(name, 1))).toMatchObject({ class: 'RegistryError', code: 'ALIAS_IN_USE' });
    await reg().deleteAlias(name, 'prod');
    const d = await reg().deleteVersion(name, 1);
    // Written just now: inside the grace period, so the object's deletion is recorded and deferred.
    expect(d).toMatchObject({ name, version: 1, orphaned: [p.artifactSha256], artifacts: { deleted: [], deferred: 1 } });
    const dry = await reg().gc({ graceSeconds: 3600, dryRun: true });
    expect(dry).toMatchObject({ store: store.url, dryRun: true, deleted: [], orphans: [] });
    expect(dry.young).toBeGreaterThanOrEqual(1);
  });

  it('knows a cancelled run; the publish protocol is Postgres-only', async () => {
    expect(await reg().isRunCancelled(cancelledRun)).toBe(true);
    expect(await reg().isRunCancelled(failedRun)).toBe(false);
    expect(await failure(reg().isRunCancelled('00000000-0000-0000-0000-000000000000'))).toMatchObject({ class: 'RegistryError', code: 'NOT_FOUND' });
    if (kind === 'http') {
      await expect(reg().createModelVersion({ name: 'x', metrics: {}, signature: {}, datasetSha256: 'd', mbnModelHash: 'e', params: {}, backend: 'b' })).rejects.toBeInstanceOf(
        NotAvailableOverHttpError,
      );
      await expect(reg().markVersionReady('id', { artifactSha256: 'a'.repeat(64), artifactBytes: 1 })).rejects.toThrow(/markVersionReady is not available over HTTP/);
      await expect(reg().markVersionFailed('id')).rejects.toBeInstanceOf(NotAvailableOverHttpError);
      await expect(reg().findVersionByIdempotencyKey('k', 'm')).rejects.toBeInstanceOf(NotAvailableOverHttpError);
    } else {
      expect(await reg().findVersionByIdempotencyKey('never-used', 'm')).toBeUndefined();
    }
  });
});

describe('both implementations', () => {
  it('answer every read with equal records and fail with equal errors', async () => {
    const reads: [string, (r: RegistryPort) => Promise<unknown>][] = [
      ['listModels', (r) => r.listModels()],
      ['getModel', (r) => r.getModel('m')],
      ['getVersion', (r) => r.getVersion('m', 3)],
      ['searchVersions', (r) => r.searchVersions({ name: 'm' })],
      ['resolve NAME', (r) => r.resolveModelRef('m')],
      ['resolve NAME@ALIAS', (r) => r.resolveModelRef('m@champion')],
      ['resolve NAME:VERSION', (r) => r.resolveModelRef('m:1')],
      ['aliasHistory', (r) => r.aliasHistory('m', 'champion', { limit: 5 })],
      ['fetchArtifact', (r) => r.fetchArtifact('m@champion')],
    ];
    for (const [what, read] of reads) expect(await read(regs.http), what).toEqual(await read(regs.prisma));
    for (const ref of ['nope', 'm@nobody', 'm:9', 'm:3', 'bad name!']) {
      expect(await failure(regs.http.resolveModelRef(ref)), ref).toEqual(await failure(regs.prisma.resolveModelRef(ref)));
    }
  });
});

describe('cmbn models, local and --remote', () => {
  const local = () => ({ DATABASE_URL: db.url, CMBN_ARTIFACTS: pathToFileURL(artifactsDir).href, CMBN_HOME: join(root, 'home') });
  const remote = () => ['--remote', coordinator.url, '--token', TOKEN];

  // Each `cmbn` is a process (seconds of start-up on a loaded 2-core machine), so a few cover it:
  // a model's JSON (every version record), a text view, a pull and an error.
  it('print the same for show and history, pull the same files, and fail with the same line', async () => {
    for (const args of [
      ['models', 'show', 'm', '--json'],
      ['models', 'history', 'm', 'champion'],
    ]) {
      const [l, r] = await Promise.all([cli(args, local()), cli([...args, ...remote()])]);
      expect(l.code, l.stderr).toBe(0);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout, args.join(' ')).toBe(l.stdout);
    }
    const [l, r] = await Promise.all([
      cli(['models', 'pull', 'm:2', '--out', join(root, 'cli-local'), '--json'], local()),
      cli(['models', 'pull', 'm:2', '--out', join(root, 'cli-remote'), '--json', ...remote()]),
    ]);
    expect(l.code, l.stderr).toBe(0);
    expect(r.code, r.stderr).toBe(0);
    const lp = JSON.parse(l.stdout) as { dir: string; files: string[] };
    const rp = JSON.parse(r.stdout) as { dir: string; files: string[] };
    expect({ ...rp, dir: '' }).toEqual({ ...lp, dir: '' });
    for (const f of lp.files) expect((await readFile(join(rp.dir, f))).equals(await readFile(join(lp.dir, f))), f).toBe(true);

    // The same one-line error for an unknown model, either way.
    const [le, re] = await Promise.all([cli(['models', 'pull', 'nope', '--out', join(root, 'x')], local()), cli(['models', 'pull', 'nope', '--out', join(root, 'y'), ...remote()])]);
    expect(le.code).toBe(1);
    expect(re.code).toBe(1);
    expect(le.stderr).toContain('cmbn: model nope has no READY version');
    expect(re.stderr).toContain('cmbn: model nope has no READY version');
  }, 400_000);
});
