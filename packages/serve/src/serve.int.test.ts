/**
 * `startServe` on student directories, over real HTTP on loopback: every input format gives the
 * in-process predictor's answers, every refusal has its status and code, and the metrics count.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeNpy, loadDataset, type Matrix } from '@cmbn/data';
import { createStudentPredictor, loadStudent } from '@cmbn/distill';
import { createStudentLabeler } from '@cmbn/pipeline';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServe, type RunningServe } from './serve.ts';
import { studentDirSha256 } from './served-model.ts';
import { readStudentHead, saveEmbeddingStudent, saveLabelsStudent } from './test-students.ts';

const logger = pino({ level: 'silent' });
let root: string;
let digits: Matrix;
const servers: RunningServe[] = [];

async function serveDir(dir: string, maxBodyBytes = 1 << 20, requestTimeoutMs?: number): Promise<RunningServe> {
  const s = await startServe({
    model: { dir }, host: '127.0.0.1', port: 0, workers: 1, maxBodyBytes, pollIntervalMs: 1000, threads: 1, logger, ...(requestTimeoutMs ? { requestTimeoutMs } : {}),
  });
  servers.push(s);
  return s;
}

const rowsOf = (m: Matrix) => Array.from({ length: m.rows }, (_, i) => Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols)));
const post = (url: string, body: string | Buffer, type: string) => fetch(`${url}/invocations`, { method: 'POST', headers: { 'content-type': type }, body });
const postJson = (url: string, o: unknown, query = '') => fetch(`${url}/invocations${query}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(o) });

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cmbn-serve-'));
  digits = (await loadDataset('mnist-test', { limit: 64 })).x;
});
afterAll(async () => {
  for (const s of servers) await s.close();
  await rm(root, { recursive: true, force: true });
});

describe('a labels student (uint8 MNIST digits)', () => {
  let s: RunningServe;
  let expected: number[];
  let dir: string;
  beforeAll(async () => {
    dir = join(root, 'labels');
    await saveLabelsStudent(dir, 1);
    s = await serveDir(dir);
    const ref = await createStudentLabeler(await loadStudent(dir), { threads: 1 });
    expected = Array.from((await ref.predict(digits)).labels);
    await ref.dispose();
    // Not a degenerate student: the 64 digits reach several classes.
    expect(new Set(expected).size).toBeGreaterThan(2);
  });

  it('answers every format with the in-process labels', async () => {
    const rows = rowsOf(digits);
    const csv = ['c' + Array.from({ length: 784 }, (_, j) => j).join(',c'), ...rows.map((r) => r.join(','))].join('\n');
    const answers = await Promise.all([
      postJson(s.url, { inputs: rows }),
      postJson(s.url, { instances: rows }),
      postJson(s.url, { dataframe_split: { columns: Array.from({ length: 784 }, (_, j) => `p${j}`), data: rows } }),
      post(s.url, csv, 'text/csv'),
      post(s.url, Buffer.from(encodeNpy(digits)), 'application/x-npy'),
      post(s.url, Buffer.from(encodeNpy({ ...digits, dtype: 'float32', data: Float32Array.from(digits.data) })), 'application/x-npy'),
    ]);
    for (const res of answers) {
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ predictions: expected });
    }
  });

  it('?probabilities=true adds per-row softmax whose argmax is the label', async () => {
    const res = await postJson(s.url, { inputs: rowsOf(digits) }, '?probabilities=true');
    const body = (await res.json()) as { predictions: number[]; probabilities: number[][] };
    expect(body.predictions).toEqual(expected);
    expect(body.probabilities).toHaveLength(64);
    body.probabilities.forEach((p, i) => {
      expect(p).toHaveLength(10);
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(p.indexOf(Math.max(...p))).toBe(expected[i]);
    });
  });

  it('/ping, /health, /version name the served student by its artifact sha256', async () => {
    expect((await fetch(`${s.url}/ping`)).status).toBe(200);
    const health = (await (await fetch(`${s.url}/health`)).json()) as { status: string };
    expect(health.status).toBe('ok');
    const v = (await (await fetch(`${s.url}/version`)).json()) as Record<string, unknown>;
    expect(v).toMatchObject({ name: null, version: null, model: dir, artifactSha256: await studentDirSha256(dir), precision: 'int8', signature: { inputDims: 784, inputDType: 'uint8' } });
  });

  it('refuses bad requests with the right status, code and message', async () => {
    const cases: [Promise<Response>, number, string, RegExp][] = [
      [postJson(s.url, { inputs: [rowsOf(digits)[0], [1, 2, 3]] }), 400, 'WRONG_WIDTH', /row 2 has 3 values; this model's signature takes 784/],
      [postJson(s.url, { inputs: [Array(784).fill(0.5)] }), 400, 'BAD_DTYPE', /row 1, column 1 is 0.5; this model takes uint8/],
      [postJson(s.url, { inputs: [] }), 400, 'EMPTY_BATCH', /empty batch/],
      [post(s.url, '{"inputs": [[NaN]]}', 'application/json'), 400, 'BAD_JSON', /not valid JSON/],
      [postJson(s.url, { inputs: rowsOf(digits) }, '?probabilities=maybe'), 400, 'BAD_REQUEST', /probabilities must be true or false/],
      [post(s.url, 'x', 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE', /application\/json, text\/csv or application\/x-npy/],
      [post(s.url, Buffer.alloc(2 << 20), 'application/x-npy'), 413, 'PAYLOAD_TOO_LARGE', /too large/],
      [fetch(`${s.url}/invocations`), 405, 'METHOD_NOT_ALLOWED', /use POST/],
      [fetch(`${s.url}/nope`), 404, 'NOT_FOUND', /no route GET \/nope/],
      [fetch(`${s.url}/ping`, { method: 'DELETE' }), 405, 'METHOD_NOT_ALLOWED', /use GET/],
    ];
    for (const [p, status, code, message] of cases) {
      const res = await p;
      expect(res.status).toBe(status);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe(code);
      expect(body.error.message).toMatch(message);
    }
  });

  it('/metrics counts requests by route and status, latency and batch sizes', async () => {
    const text = await (await fetch(`${s.url}/metrics`)).text();
    // From the tests above: 6 + 1 accepted /invocations of 64 rows each, 5 refused with 400.
    expect(text).toMatch(/^cmbn_serve_requests_total\{route="\/invocations",status="200"\} 7$/m);
    expect(text).toMatch(/^cmbn_serve_requests_total\{route="\/invocations",status="400"\} 5$/m);
    expect(text).toMatch(/^cmbn_serve_requests_total\{route="other",status="404"\} 1$/m);
    expect(text).toMatch(/^cmbn_serve_batch_size_bucket\{le="64"\} 7$/m);
    expect(text).toMatch(/^cmbn_serve_batch_size_bucket\{le="16"\} 0$/m);
    expect(text).toMatch(/^cmbn_serve_points_total 448$/m);
    expect(text).toMatch(/^cmbn_serve_request_duration_seconds_count\{route="\/invocations"\} 1[0-9]$/m);
    expect(text).toMatch(/^cmbn_serve_model_info\{name=".*labels",version="[0-9a-f]{12}"\} 1$/m);
  });

  // After /metrics, which counts the requests of the tests above it.
  it('gives a digit the same label alone as in a batch of 64 (calibrated int8: no batch-wide ranges)', async () => {
    expect((await loadStudent(dir)).activationRanges).toBeDefined();
    const rows = rowsOf(digits);
    const alone = await Promise.all(rows.slice(0, 16).map(async (r) => ((await (await postJson(s.url, { inputs: [r] })).json()) as { predictions: number[] }).predictions[0]));
    expect(alone).toEqual(expected.slice(0, 16));
  });
});

describe('bounded time', () => {
  let dir: string;
  beforeAll(async () => {
    dir = join(root, 'bounded');
    await saveLabelsStudent(dir, 5);
  });

  it('a chunked body (no Content-Length) over the limit is answered 413 and the connection closed', async () => {
    const s = await serveDir(dir, 1 << 20);
    const sock = connect(s.port, '127.0.0.1');
    let answer = '';
    let closed = false;
    sock.on('data', (b: Buffer) => (answer += b.toString()));
    sock.on('error', () => {}); // the server may reset the connection while we still write
    const done = new Promise<void>((r) => sock.on('close', () => ((closed = true), r())));
    sock.write('POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-npy\r\nTransfer-Encoding: chunked\r\n\r\n');
    // An endless body: only the server's limit can end this request.
    const chunk = Buffer.concat([Buffer.from('10000\r\n'), Buffer.alloc(0x10000), Buffer.from('\r\n')]);
    let sent = 0;
    while (!closed && answer === '' && sent < 256 << 20) {
      if (!sock.write(chunk)) await new Promise((r) => setTimeout(r, 5));
      sent += 0x10000;
    }
    await done;
    expect(answer).toMatch(/^HTTP\/1\.1 413/);
    expect(answer).toMatch(/PAYLOAD_TOO_LARGE/);
    expect(sent).toBeLessThan(64 << 20);
  });

  it('a client that stops sending mid-body is answered 408 and disconnected after the request timeout', async () => {
    const s = await serveDir(dir, 1 << 20, 1_000);
    const sock = connect(s.port, '127.0.0.1');
    let answer = '';
    sock.on('data', (b: Buffer) => (answer += b.toString()));
    const closed = new Promise<void>((r) => sock.on('close', () => r()));
    sock.write('POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"inputs": [[1, 2');
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
  });
});

describe('embedding students (float32 input)', () => {
  const x = Array.from({ length: 20 }, (_, i) => Array.from({ length: 8 }, (_, j) => Math.sin(i * 3 + j) * 2));

  it('predictions are the embedding; a k-means head adds labels; probabilities are refused', async () => {
    const dir = join(root, 'embedding');
    await saveEmbeddingStudent(dir, 3);
    const s = await serveDir(dir);
    const student = await loadStudent(dir);
    const ref = await createStudentLabeler(student, { head: await readStudentHead(dir), threads: 1 });
    const want = await ref.predict({ rows: 20, cols: 8, dtype: 'float32', data: Float32Array.from(x.flat()) });
    await ref.dispose();
    const body = (await (await postJson(s.url, { inputs: x })).json()) as { predictions: number[][]; labels: number[] };
    expect(body.labels).toEqual(Array.from(want.labels));
    expect(body.predictions.flat()).toEqual(Array.from(want.values!));
    expect(body.predictions[0]).toHaveLength(3);
    const p = await postJson(s.url, { inputs: x }, '?probabilities=true');
    expect(p.status).toBe(400);
    expect(((await p.json()) as { error: { code: string } }).error.code).toBe('NO_PROBABILITIES');
  });

  it('without a head: only the embedding', async () => {
    const dir = join(root, 'embedding-bare');
    await saveEmbeddingStudent(dir, 4, false);
    const s = await serveDir(dir);
    const pred = await createStudentPredictor(await loadStudent(dir), { threads: 1 });
    const want = await pred.predict({ rows: 20, cols: 8, dtype: 'float32', data: Float32Array.from(x.flat()) });
    await pred.dispose();
    const body = (await (await postJson(s.url, { instances: x })).json()) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(['predictions']);
    expect((body.predictions as number[][]).flat()).toEqual(Array.from(want.values!));
  });
});
