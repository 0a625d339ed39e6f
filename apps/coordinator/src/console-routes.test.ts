import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toErrorResponse } from './errors.ts';
import { consoleRouter } from './console-routes.ts';

let dir: string;
const servers: { close(): void }[] = [];

async function serve(dist: string): Promise<string> {
  const app = express();
  app.use(consoleRouter(dist));
  app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    const { status, body } = toErrorResponse(err);
    res.status(status).json(body);
  });
  const s = app.listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  servers.push(s);
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cmbn-console-dist-'));
  await mkdir(join(dir, 'assets'));
  await writeFile(join(dir, 'index.html'), '<!doctype html><title>cmbn console</title>');
  await writeFile(join(dir, 'assets', 'index-abc.js'), 'console.log(1)');
});

afterAll(async () => {
  for (const s of servers) s.close();
  await rm(dir, { recursive: true, force: true });
});

describe('console static files', () => {
  it('serves index.html at / (revalidated) and fingerprinted assets as immutable', async () => {
    const base = await serve(dir);
    const index = await fetch(base + '/');
    expect(index.status).toBe(200);
    expect(await index.text()).toContain('cmbn console');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    const js = await fetch(base + '/assets/index-abc.js');
    expect(js.headers.get('cache-control')).toMatch(/immutable/);
    expect((await fetch(base + '/../package.json')).status).not.toBe(200);
  });

  it('answers 404 with what to run when the console is not built', async () => {
    const base = await serve(join(dir, 'missing'));
    const r = await fetch(base + '/');
    expect(r.status).toBe(404);
    expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/npm run build:console/);
  });
});
