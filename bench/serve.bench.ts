/**
 * `cmbn serve` under load: autocannon on loopback against the real CLI (a child process), for JSON
 * and npy bodies at batch 1 and batch 256, against two baselines measured in this same run:
 * - the in-process predictor (@cmbn/pipeline's labeler: same student, precision and ORT threads,
 *   batch 256, no HTTP), measured before and after the HTTP runs and averaged;
 * - JSON.parse of the same batch-256 body (the rate at which JSON can carry points at all).
 *
 *   npm run bench:serve -- --json [--duration 10] [--rounds 2] [--connections 4] [--threads 1] [--workers 1]
 *                                  [--precision int8|fp32] [--hidden 256,256] [--model DIR]
 *
 * Target (issue 12): npy batch-256 points/s ≥ 50 % of the in-process predictor's points/s.
 * The student is a seeded [--hidden] MLP on MNIST's 784 uint8 pixels (speed does not depend on
 * the weights), or --model DIR. Requests carry real MNIST test digits.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { encodeNpy, loadDataset, type Matrix } from '@cmbn/data';
import { activationRanges, DEFAULT_STUDENT_SPEC, handSetStudent, loadStudent, readStudentMeta, saveStudent, type StudentInput, type TrainedStudent } from '@cmbn/distill';
import { createStudentLabeler, isCentroidHead } from '@cmbn/pipeline';

const { values: a } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    duration: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '2' },
    connections: { type: 'string', default: '4' },
    threads: { type: 'string', default: '1' },
    workers: { type: 'string', default: '1' },
    precision: { type: 'string', default: 'int8' },
    hidden: { type: 'string', default: DEFAULT_STUDENT_SPEC.hidden.join(',') },
    model: { type: 'string' },
  },
});
const duration = Number(a.duration);
const connections = Number(a.connections);
const rounds = Number(a.rounds);
const threads = Number(a.threads);
const workers = Number(a.workers);
const precision = a.precision === 'fp32' ? 'fp32' : 'int8';
const log = (m: string) => !a.json && process.stderr.write(`${m}\n`);
const CLI = fileURLToPath(new URL('../apps/cli/bin/cmbn.js', import.meta.url));

/** The part of autocannon's API and result used here (the package ships no types). */
interface CannonResult {
  duration: number;
  '2xx': number;
  non2xx: number;
  errors: number;
  timeouts: number;
  latency: { p50: number; p99: number; mean: number };
}
type Cannon = (o: Record<string, unknown>, cb: (err: Error | null, r: CannonResult) => void) => unknown;
const autocannon = createRequire(import.meta.url)('autocannon') as Cannon;
const cannon = (o: Record<string, unknown>) => new Promise<CannonResult>((ok, fail) => autocannon(o, (err, r) => (err ? fail(err) : ok(r))));

/** A uint8 784 → hidden (ReLU) → 10 labels MLP with seeded weights of mixed sign. */
function seededStudent(hidden: number[]): TrainedStudent {
  const dims = [784, ...hidden, 10];
  return handSetStudent(
    dims.slice(1).map((d, l) => ({
      weight: Float32Array.from({ length: dims[l]! * d }, (_, i) => (Math.sin(l * 12.9898 + i * 78.233) * 2) / Math.sqrt(dims[l]!)),
      bias: new Float32Array(d),
      inDim: dims[l]!,
      outDim: d,
      activation: l === dims.length - 2 ? 'softmax' : 'relu',
    })),
  );
}

const rowsOf = (m: Matrix, n: number) => ({ ...m, rows: n, data: m.data.subarray(0, n * m.cols) }) as Matrix;
const round = (v: number, d = 0) => Number(v.toFixed(d));

async function inProcessPointsPerSecond(dir: string, x: Matrix, seconds: number): Promise<number> {
  const student = await loadStudent(dir);
  const head = (await readStudentMeta(dir)).head;
  const labeler = await createStudentLabeler(student, { threads, precision, ...(isCentroidHead(head) ? { head } : {}) });
  try {
    for (let i = 0; i < 20; i++) await labeler.predict(x);
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      await labeler.predict(x);
      n += x.rows;
    }
    return n / ((performance.now() - t0) / 1000);
  } finally {
    await labeler.dispose();
  }
}

function jsonParsePointsPerSecond(body: string, rows: number, seconds: number): number {
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    JSON.parse(body);
    n += rows;
  }
  return n / ((performance.now() - t0) / 1000);
}

async function startServer(dir: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [CLI, 'serve', dir, '--port', '0', '--threads', String(threads), '--workers', String(workers), '--precision', precision, '--log-level', 'info'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  const url = await new Promise<string>((ok, fail) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const rec = JSON.parse(line) as { url?: string };
      if (rec.url) ok(rec.url);
    });
    void exited.then(() => fail(new Error('cmbn serve exited before listening')));
  });
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

const load0 = loadavg()[0]!;
const root = await mkdtemp(join(tmpdir(), 'cmbn-bench-serve-'));
try {
  let dir = a.model;
  const hidden = a.hidden.split(',').map(Number);
  if (!dir) {
    dir = join(root, 'student');
    // Calibrated like every trained student (calibrate.ts), on the training digits' first 10k.
    const student = seededStudent(hidden);
    student.activationRanges = await activationRanges(student, (await loadDataset('mnist-train', { limit: 10_000 })).x as StudentInput);
    await saveStudent(student, dir);
  }
  const x256 = rowsOf((await loadDataset('mnist-test', { limit: 256 })).x, 256);
  const x1 = rowsOf(x256, 1);
  const jsonOf = (m: Matrix) => JSON.stringify({ inputs: Array.from({ length: m.rows }, (_, i) => Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols))) });
  const bodies = {
    json: { 1: jsonOf(x1), 256: jsonOf(x256) },
    npy: { 1: Buffer.from(encodeNpy(x1)), 256: Buffer.from(encodeNpy(x256)) },
  };

  log(`in-process predictor (${precision}, ${threads} thread(s), batch 256)…`);
  const inBefore = await inProcessPointsPerSecond(dir, x256, Math.min(5, duration));
  const jsonParse = jsonParsePointsPerSecond(bodies.json[256], 256, Math.min(3, duration));

  const server = await startServer(dir);
  const runs: Record<string, unknown>[] = [];
  try {
    // Correctness first: the server's answer for the batch is the in-process one.
    const ref = await createStudentLabeler(await loadStudent(dir), { threads, precision });
    const want = Array.from((await ref.predict(x256)).labels);
    await ref.dispose();
    const got = (await (await fetch(`${server.url}/invocations`, { method: 'POST', headers: { 'content-type': 'application/x-npy' }, body: bodies.npy[256] })).json()) as { predictions: number[] };
    if (JSON.stringify(got.predictions) !== JSON.stringify(want)) throw new Error('the server and the in-process predictor disagree');

    const cases = (['npy', 'json'] as const).flatMap((format) =>
      ([1, 256] as const).map((batch) => ({
        format,
        batch,
        body: bodies[format][batch],
        headers: { 'content-type': format === 'npy' ? 'application/x-npy' : 'application/json' },
      })),
    );
    // Warm-up of every case before any is measured: V8 optimises the request paths and onnxruntime
    // sizes its buffers. (A warm-up of each case just before it left the first case measured ~2×
    // slow on a loaded machine.)
    for (const { body, headers } of cases) await cannon({ url: `${server.url}/invocations`, method: 'POST', headers, body, connections, duration: Math.min(3, duration) });
    // Rounds in alternating order (A B C D, D C B A, …): on a shared machine the load drifts, and a
    // fixed order would charge the drift to whichever case runs first.
    const perCase = new Map<string, CannonResult[]>();
    for (let k = 0; k < rounds; k++) {
      for (const c of k % 2 === 0 ? cases : [...cases].reverse()) {
        log(`round ${k + 1}/${rounds}: autocannon ${c.format} batch ${c.batch}: ${connections} connections, ${duration} s…`);
        const r = await cannon({ url: `${server.url}/invocations`, method: 'POST', headers: c.headers, body: c.body, connections, duration });
        perCase.set(`${c.format}${c.batch}`, [...(perCase.get(`${c.format}${c.batch}`) ?? []), r]);
      }
    }
    for (const { format, batch, body } of cases) {
      const rs = perCase.get(`${format}${batch}`)!;
      const ok = rs.reduce((t, r) => t + r['2xx'], 0);
      const rps = ok / rs.reduce((t, r) => t + r.duration, 0);
      runs.push({
        format,
        batch,
        bodyBytes: Buffer.byteLength(body),
        requestsPerSecond: round(rps, 1),
        pointsPerSecond: round(rps * batch),
        // Per round (autocannon's percentiles cannot be merged exactly).
        p50Ms: rs.map((r) => r.latency.p50),
        p99Ms: rs.map((r) => r.latency.p99),
        requestsPerSecondPerRound: rs.map((r) => round(r['2xx'] / r.duration, 1)),
        ok,
        failed: rs.reduce((t, r) => t + r.non2xx + r.errors + r.timeouts, 0),
      });
    }
  } finally {
    await server.stop();
  }
  const inAfter = await inProcessPointsPerSecond(dir, x256, Math.min(5, duration));
  const inProcess = (inBefore + inAfter) / 2;
  const find = (f: string, b: number) => runs.find((r) => r.format === f && r.batch === b)!.pointsPerSecond as number;
  const npyRatio = find('npy', 256) / inProcess;
  const summary = {
    student: { hidden: a.model ? 'from --model' : hidden, precision, threads, workers },
    connections,
    durationSeconds: duration,
    rounds,
    // The machine's 1-minute load average at the start and the end: on a shared machine it says how noisy the numbers are.
    loadAverage: [round(load0, 1), round(loadavg()[0]!, 1)],
    inProcessPointsPerSecond: { before: round(inBefore), after: round(inAfter), mean: round(inProcess) },
    jsonParsePointsPerSecond: round(jsonParse),
    runs,
    npy256VsInProcess: round(npyRatio, 3),
    json256VsInProcess: round(find('json', 256) / inProcess, 3),
    json256VsJsonParse: round(find('json', 256) / jsonParse, 3),
    target: { npy256VsInProcess: 0.5, met: npyRatio >= 0.5 },
  };
  if (a.json) console.log(JSON.stringify(summary));
  else console.log(JSON.stringify(summary, null, 2));
} finally {
  await rm(root, { recursive: true, force: true });
}
