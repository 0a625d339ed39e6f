/**
 * httpRegistry's boundary against servers that are not (this version of) a coordinator: answers
 * outside the contract, non-registry errors, nobody listening, a bad URL. The contract itself,
 * against a real coordinator, is apps/cli/src/commands/models.int.test.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RegistryError } from '@cmbn/registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PipelineError } from './errors.ts';
import { NotAvailableOverHttpError, RegistryHttpError, httpRegistry, versionSearchQuery } from './registry-http.ts';

let server: Server;
let url: string;
const seen: { path: string; auth: string | undefined }[] = [];

/** Canned answers by path: what an older or foreign server might send. */
function answer(req: IncomingMessage, res: ServerResponse): void {
  seen.push({ path: req.url ?? '', auth: req.headers.authorization });
  const json = (status: number, body: unknown): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  if (req.url === '/v1/models') return json(200, { models: [{ name: 'm', latestVersion: 'three' }] });
  if (req.url === '/v1/models/locked') return json(401, { error: { code: 'UNAUTHORIZED', message: 'missing or invalid token' } });
  if (req.url === '/v1/models/gone') return json(404, { error: { code: 'NOT_FOUND', message: 'model gone not found' } });
  if (req.url === '/v1/models/busy') return json(409, { error: { code: 'ALIAS_IN_USE', message: 'm:1 is aliased', details: { aliases: ['prod'] } } });
  if (req.url === '/v1/models/bad') return json(400, { error: { code: 'BAD_REQUEST', message: 'name: too long' } });
  if (req.url === '/v1/models/broken') return void res.writeHead(502).end('<html>bad gateway</html>');
  return json(404, { error: { code: 'NOT_FOUND', message: 'no route' } });
}

beforeAll(async () => {
  server = createServer(answer);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

async function failure(p: Promise<unknown>): Promise<Error & { code?: unknown; status?: unknown; details?: unknown }> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('httpRegistry at the boundary', () => {
  it('refuses an answer outside the contract, naming the field', async () => {
    const e = await failure(httpRegistry(url).listModels());
    expect(e).toBeInstanceOf(RegistryHttpError);
    expect(e.message).toMatch(/^\/v1\/models: the coordinator's answer does not match the API contract \(models\.0\..+\); is it another version of cmbn\?$/);
  });

  it("maps the registry's codes to RegistryError with the server's message and details, others to RegistryHttpError", async () => {
    const reg = httpRegistry(url, { token: 'sekret' });
    const gone = await failure(reg.getModel('gone'));
    expect(gone).toBeInstanceOf(RegistryError);
    expect(gone).toMatchObject({ code: 'NOT_FOUND', message: 'model gone not found' });
    expect(await failure(reg.getModel('busy'))).toMatchObject({ name: 'RegistryError', code: 'ALIAS_IN_USE', details: { aliases: ['prod'] } });
    expect(await failure(reg.getModel('bad'))).toMatchObject({ name: 'RegistryError', code: 'INVALID', message: 'name: too long' });
    const locked = await failure(reg.getModel('locked'));
    expect(locked).toBeInstanceOf(RegistryHttpError);
    expect(locked).toMatchObject({ status: 401, code: 'UNAUTHORIZED', message: '/v1/models/locked: missing or invalid token (401 UNAUTHORIZED)' });
    const broken = await failure(reg.getModel('broken'));
    expect(broken).toBeInstanceOf(RegistryHttpError);
    expect(broken).toMatchObject({ status: 502, code: undefined, message: '/v1/models/broken: Bad Gateway (502)' });
    expect(seen.filter((s) => s.path === '/v1/models/gone').map((s) => s.auth)).toEqual(['Bearer sekret']);
  });

  it('checks a ref locally with the registry parser before asking', async () => {
    const before = seen.length;
    expect(await failure(httpRegistry(url).resolveModelRef('m@1bad'))).toMatchObject({ name: 'RegistryError', code: 'INVALID' });
    expect(await failure(httpRegistry(url).fetchArtifact('a:b:c'))).toMatchObject({ name: 'RegistryError', code: 'INVALID' });
    expect(seen.length).toBe(before);
  });

  it('says so when nobody answers, and refuses a URL that is not http(s)', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const e = await failure(httpRegistry(`http://127.0.0.1:${port}`).listModels());
    expect(e).toBeInstanceOf(RegistryHttpError);
    expect(e).toMatchObject({ status: undefined, message: expect.stringMatching(new RegExp(`^cannot reach the coordinator at http://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`)) });
    expect(() => httpRegistry('localhost:8080')).toThrow(PipelineError);
    expect(() => httpRegistry('not a url')).toThrow(/invalid coordinator URL "not a url"/);
  });

  it('throws NotAvailableOverHttpError for the publish protocol, without a request', async () => {
    const before = seen.length;
    const reg = httpRegistry(url);
    const e = await failure(reg.createModelVersion({ name: 'm', metrics: {}, signature: {}, datasetSha256: 'd', mbnModelHash: 'e', params: {}, backend: 'b' }));
    expect(e).toBeInstanceOf(NotAvailableOverHttpError);
    expect(e).toMatchObject({ code: 'NOT_AVAILABLE_OVER_HTTP', operation: 'createModelVersion' });
    expect(seen.length).toBe(before);
  });

  it('writes a search as the query the API reads', () => {
    const q = versionSearchQuery({
      name: 'm',
      tags: ['team=vision', 'candidate'],
      alias: 'prod',
      status: 'READY',
      metrics: [{ name: 'agreement', min: 0.9 }, { name: 'acc', max: 0.5 }],
      createdAfter: new Date('2026-12-01T00:00:00Z'),
      pageSize: 5,
      pageToken: 'tok',
    });
    expect(q).toBe('tag=team%3Dvision&tag=candidate&alias=prod&status=READY&min_agreement=0.9&max_acc=0.5&created_after=2026-12-01T00%3A00%3A00.000Z&page_size=5&page_token=tok');
  });
});
