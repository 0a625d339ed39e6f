import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toErrorResponse } from './errors.ts';
import { consoleRouter } from './console-routes.ts';

/** The build lies in <root>/assets/dist: a parent called assets must not make index.html immutable. */
let root: string;
let dist: string;
const SENTINEL = 'sentinel-outside-dist-7f3a';
const servers: { close(): void }[] = [];

async function serve(dir: string): Promise<{ base: string; port: number }> {
  const app = express();
  app.use(consoleRouter(dir));
  app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    const { status, body } = toErrorResponse(err);
    res.status(status).json(body);
  });
  const s = app.listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  servers.push(s);
  const port = (s.address() as AddressInfo).port;
  return { base: `http://127.0.0.1:${port}`, port };
}

/** Sends the path byte for byte: fetch (WHATWG URL) would normalise `/../x` and `%2e%2e` away before sending. */
function rawGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cmbn-console-'));
  dist = join(root, 'assets', 'dist');
  await mkdir(join(dist, 'assets'), { recursive: true });
  await writeFile(join(dist, 'index.html'), '<!doctype html><title>cmbn console</title>');
  await writeFile(join(dist, 'assets', 'index-abc.js'), 'console.log(1)');
  // Files just outside dist, which no request may reach.
  await writeFile(join(root, 'assets', 'secret'), SENTINEL);
  await writeFile(join(root, 'assets', 'package.json'), SENTINEL);
});

afterAll(async () => {
  for (const s of servers) s.close();
  await rm(root, { recursive: true, force: true });
});

describe('console static files', () => {
  it('serves index.html at / (revalidated) and fingerprinted assets as immutable, judged inside dist', async () => {
    const { base } = await serve(dist);
    const index = await fetch(base + '/');
    expect(index.status).toBe(200);
    expect(await index.text()).toContain('cmbn console');
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect((await fetch(base + '/index.html')).headers.get('cache-control')).toBe('no-cache');
    const js = await fetch(base + '/assets/index-abc.js');
    expect(js.status).toBe(200);
    expect(js.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
  });

  it('serves nothing outside dist, however the path is spelled', async () => {
    const { port } = await serve(dist);
    // Control: the raw client reaches files inside dist.
    expect((await rawGet(port, '/assets/index-abc.js')).status).toBe(200);
    for (const path of ['/../secret', '/..%2fsecret', '/%2e%2e/secret', '/%2e%2e%2fsecret', '/assets/..%2f..%2fsecret', '/..%5csecret', '/../package.json', '/%2e%2e/package.json']) {
      const r = await rawGet(port, path);
      expect(r.status, path).toBe(404);
      expect(r.body, path).not.toContain(SENTINEL);
    }
  });

  it('answers 404 with what to run when the console is not built', async () => {
    const { base } = await serve(join(root, 'missing'));
    const r = await fetch(base + '/');
    expect(r.status).toBe(404);
    expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/npm run build:console/);
  });
});
