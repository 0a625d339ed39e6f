/**
 * `cmbn serve --remote`: the registry reached through a real coordinator's /v1/models API (with a
 * token), following an alias that moves; a wrong token is refused at start with one line.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import pino from 'pino';
import { FileArtifactStore } from '@cmbn/artifacts';
import { startCoordinator, type CoordinatorHandle } from '@cmbn/coordinator';
import { saveStudent, tinyStudent } from '@cmbn/distill';
import { publishStudent } from '@cmbn/pipeline';
import { createTestDatabase, setAlias, type TestDatabase } from '@cmbn/registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CLI = resolve(import.meta.dirname, '../../bin/cmbn.js');
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const TOKEN = 'serve-remote-token';
const prefix = `cmbn-serve-test-${randomBytes(4).toString('hex')}`;
const lineage = { runId: null, datasetSha256: 'd'.repeat(64), mbnModelHash: 'e'.repeat(64), params: { V: 20 }, backend: 'wasm' };

let db: TestDatabase;
let root: string;
let coordinator: CoordinatorHandle;
const shas: string[] = [];


beforeAll(async () => {
  db = await createTestDatabase();
  root = await mkdtemp(join(tmpdir(), 'cmbn-serve-remote-'));
  const artifacts = join(root, 'artifacts');
  coordinator = await startCoordinator({
    databaseUrl: db.url,
    redisUrl: REDIS_URL,
    artifacts,
    prefix,
    port: 0,
    apiToken: TOKEN,
    maxUploadBytes: 1 << 20,
    reconcileIntervalMs: 60_000,
    logger: pino({ level: 'silent' }),
  });
  const store = new FileArtifactStore(artifacts);
  for (const seed of [1, 2]) {
    const dir = join(root, `s${seed}`);
    await saveStudent(tinyStudent(seed), dir);
    shas.push((await publishStudent({ studentDir: dir, name: 'tiny', store, lineage, metrics: {} })).artifactSha256);
  }
  await setAlias('tiny', 'prod', 1);
});
afterAll(async () => {
  await coordinator?.close();
  await db?.drop();
  await rm(root, { recursive: true, force: true });
  const r = new Redis(REDIS_URL);
  const keys = await r.keys(`${prefix}:*`);
  if (keys.length > 0) await r.del(...keys);
  r.disconnect();
});

function serve(args: string[], env: NodeJS.ProcessEnv = {}) {
  // No DATABASE_URL: everything must come through the coordinator.
  const { DATABASE_URL: _unused, ...rest } = process.env;
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { env: { ...rest, CMBN_HOME: join(root, 'home'), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const url = new Promise<string>((ok, fail) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const rec = JSON.parse(line) as { url?: string };
      if (rec.url) ok(rec.url);
    });
    void exited.then((code) => fail(new Error(`exited ${code}: ${stderr}`)));
  });
  url.catch(() => {});
  return { child, exited, url, stderr: () => stderr };
}

describe('cmbn serve --remote', () => {
  it('resolves the alias through the API (token from $CMBN_API_TOKEN) and follows its move', async () => {
    const s = serve(['models:/tiny@prod', '--remote', coordinator.url, '--port', '0', '--poll-interval', '0.2', '--threads', '1'], { CMBN_API_TOKEN: TOKEN });
    try {
      const url = await s.url;
      const v = async () => (await (await fetch(`${url}/version`)).json()) as { name: string; version: number; artifactSha256: string };
      expect(await v()).toMatchObject({ name: 'tiny', version: 1, artifactSha256: shas[0] });
      await setAlias('tiny', 'prod', 2);
      const end = performance.now() + 30_000;
      while ((await v()).version !== 2 && performance.now() < end) await new Promise((r) => setTimeout(r, 100));
      expect(await v()).toMatchObject({ version: 2, artifactSha256: shas[1] });
      const res = await fetch(`${url}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: [[1, 2, 3, 4, 5, 6]] }) });
      expect(res.status).toBe(200);
    } finally {
      s.child.kill('SIGTERM');
      expect(await s.exited).toBe(0);
    }
  });

  it('a wrong token is refused at start with one line and a non-zero exit', async () => {
    const s = serve(['models:/tiny@prod', '--remote', coordinator.url, '--token', 'wrong', '--port', '0']);
    expect(await s.exited).not.toBe(0);
    expect(s.stderr()).toMatch(/^cmbn: .*401/m);
  });
});
