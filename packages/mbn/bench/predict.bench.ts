/**
 * MBN predict before and after, side by side in one process on the same model and points: the
 * reference (predict-reference.ts: one clustering at a time, centres gathered on every call, the
 * sparse layers one clustering at a time on the main thread), the in-process `predict` (grouped
 * sparse kernel, one-pass centre preparation, nothing kept), and `createMbnPredictor` (worker
 * threads over clusterings, prepared centres kept across calls). Points go in calls of --chunk
 * rows, as the pipeline labels its distortions. The predictor's first call (16 points: threads
 * boot, ORT sessions start, every clustering's centres are prepared and kept) is timed apart; then
 * --rounds alternating passes of the reference and the predictor (what every later batch costs),
 * their ratio per round and its median, wall and CPU seconds (the CPU side is less sensitive to
 * other processes' load on a shared machine). All outputs
 * are checked byte for byte against the reference. For context it first trains the model (the
 * training rate per point, all layers, same machine, same run) unless --model loads one.
 *
 *   npm run bench:predict -- [--train 10000] [--V 100] [--seed 1] [--points 2000] [--chunk 2000]
 *                            [--threads N] [--model DIR] [--rounds 3] [--skip-in-process] [--json]
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { loadDataset } from '@cmbn/data';
import { createDenseBackend } from '@cmbn/kernels';
import { createMbnPredictor, deserializeModel, loadModel, predict, trainMbn, type MbnModel, type Prediction, type PredictInput } from '../src/index.ts';
import { predictReference } from '../src/predict-reference.ts';

const { values } = parseArgs({
  options: {
    train: { type: 'string', default: '10000' },
    V: { type: 'string', default: '100' },
    seed: { type: 'string', default: '1' },
    points: { type: 'string', default: '2000' },
    chunk: { type: 'string', default: '2000' },
    threads: { type: 'string' },
    model: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    'skip-in-process': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const threads = values.threads === undefined ? availableParallelism() : Number(values.threads);
const chunk = Number(values.chunk);
const log = (s: string) => process.stderr.write(`${s}\n`);

let model: MbnModel;
let training: { points: number; seconds: number; pointsPerSecond: number; layerSeconds: number[] } | undefined;
if (values.model) {
  model = (await loadModel(values.model)).model;
} else {
  const ds = await loadDataset('mnist-train', { limit: Number(values.train) });
  log(`training MBN on ${ds.x.rows} digits, V=${values.V}, seed ${values.seed}, ${threads} threads…`);
  const r = await trainMbn(ds.x, { V: Number(values.V), seed: Number(values.seed) }, { threads });
  // Through the bytes, as a saved model would be used.
  model = deserializeModel(r.modelBytes);
  training = { points: ds.x.rows, seconds: r.mbnSeconds, pointsPerSecond: ds.x.rows / r.mbnSeconds, layerSeconds: r.layerSeconds };
  log(`trained in ${r.mbnSeconds.toFixed(1)} s (${training.pointsPerSecond.toFixed(1)} points/s), layers ${r.layerSeconds.map((s) => s.toFixed(1)).join(', ')} s`);
}
const test = await loadDataset('mnist-test', { limit: Number(values.points) });
const x = test.x as PredictInput;
const n = x.rows;

function chunks(): PredictInput[] {
  const out: PredictInput[] = [];
  for (let s = 0; s < n; s += chunk) {
    const m = Math.min(chunk, n - s);
    out.push({ ...x, rows: m, data: x.data.subarray(s * x.cols, (s + m) * x.cols) } as PredictInput);
  }
  return out;
}

/** Concatenated bytes of every chunk's embedding, labels and top code, for the identity check. */
function joined(parts: Prediction[]): { embedding: Float64Array; labels: Int32Array; ids: Uint16Array } {
  const cat = <T extends Float64Array | Int32Array | Uint16Array>(xs: T[], C: new (len: number) => T): T => {
    const out = new C(xs.reduce((a, b) => a + b.length, 0));
    let o = 0;
    for (const a of xs) {
      out.set(a as never, o);
      o += a.length;
    }
    return out;
  };
  return { embedding: cat(parts.map((p) => p.embedding), Float64Array), labels: cat(parts.map((p) => p.labels), Int32Array), ids: cat(parts.map((p) => p.topCode.ids), Uint16Array) };
}

function identical(a: ReturnType<typeof joined>, b: ReturnType<typeof joined>): boolean {
  const eq = (u: ArrayBufferView, v: ArrayBufferView) => Buffer.compare(Buffer.from(u.buffer, u.byteOffset, u.byteLength), Buffer.from(v.buffer, v.byteOffset, v.byteLength)) === 0;
  return eq(a.embedding, b.embedding) && eq(a.labels, b.labels) && eq(a.ids, b.ids);
}

const backend = await createDenseBackend({ threads });
const warm = { ...x, rows: 16, data: x.data.subarray(0, 16 * x.cols) } as PredictInput;
await predictReference(model, warm, backend); // first ORT run allocates its arenas

log(`createMbnPredictor, ${threads} threads: first call…`);
const t0 = performance.now();
const predictor = createMbnPredictor(model, { threads });
await predictor.predict(warm);
const firstCallSeconds = (performance.now() - t0) / 1000;

let inProcess: { seconds: number; pointsPerSecond: number; identical: boolean; speedup: number } | undefined;

/** Wall and CPU seconds (every thread of this process) of one pass over the points. */
async function pass(run: (c: PredictInput) => Promise<Prediction>): Promise<{ seconds: number; cpuSeconds: number; out: ReturnType<typeof joined> }> {
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  const parts: Prediction[] = [];
  for (const c of chunks()) parts.push(await run(c));
  const seconds = (performance.now() - w0) / 1000;
  const cpu = process.cpuUsage(c0);
  return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, out: joined(parts) };
}

// Alternating rounds, so that load from other processes hits both sides alike; the ratio is taken per round.
const rounds: { reference: number; referenceCpu: number; predictor: number; predictorCpu: number; ratio: number }[] = [];
const refLayers: number[] = [];
const predLayers: number[] = [];
let identicalAll = true;
try {
  for (let r = 0; r < Number(values.rounds); r++) {
    const ref = await pass((c) => predictReference(model, c, backend, refLayers));
    const fast = await pass((c) => predictor.predict(c, { layerSeconds: predLayers }));
    identicalAll &&= identical(fast.out, ref.out);
    rounds.push({ reference: ref.seconds, referenceCpu: ref.cpuSeconds, predictor: fast.seconds, predictorCpu: fast.cpuSeconds, ratio: ref.seconds / fast.seconds });
    log(`round ${r + 1}: reference ${(n / ref.seconds).toFixed(1)} points/s, predictor ${(n / fast.seconds).toFixed(1)} points/s, ${(ref.seconds / fast.seconds).toFixed(2)}×, identical ${identical(fast.out, ref.out)}`);
    if (r === 0 && !values['skip-in-process']) {
      const inp = await pass((c) => predict(model, c, backend));
      inProcess = { seconds: inp.seconds, pointsPerSecond: n / inp.seconds, identical: identical(inp.out, ref.out), speedup: ref.seconds / inp.seconds };
      log(`  in-process predict ${(n / inp.seconds).toFixed(1)} points/s (${inProcess.speedup.toFixed(2)}× the reference in the same round), identical ${inProcess.identical}`);
    }
  }
} finally {
  await predictor.dispose();
  await backend.dispose();
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const round = (v: number, d = 3) => Number(v.toFixed(d));
const R = rounds.length;
const medRef = median(rounds.map((r) => r.reference));
const medPred = median(rounds.map((r) => r.predictor));
const result = {
  points: n,
  chunk,
  threads,
  ks: model.ks,
  ...(training ? { training: { ...training, seconds: round(training.seconds), pointsPerSecond: round(training.pointsPerSecond, 1), layerSeconds: training.layerSeconds.map((v) => round(v)) } } : {}),
  rounds: rounds.map((r) => ({ reference: round(r.reference), referenceCpu: round(r.referenceCpu), predictor: round(r.predictor), predictorCpu: round(r.predictorCpu), ratio: round(r.ratio) })),
  reference: { pointsPerSecond: round(n / medRef, 1), cpuSecondsPerKPoint: round((1000 * median(rounds.map((r) => r.referenceCpu))) / n), layerSeconds: refLayers.map((v) => round(v / R)) },
  ...(inProcess ? { inProcess: { seconds: round(inProcess.seconds), pointsPerSecond: round(inProcess.pointsPerSecond, 1), identical: inProcess.identical, speedup: round(inProcess.speedup) } } : {}),
  predictor: {
    firstCallSeconds: round(firstCallSeconds),
    pointsPerSecond: round(n / medPred, 1),
    cpuSecondsPerKPoint: round((1000 * median(rounds.map((r) => r.predictorCpu))) / n),
    layerSeconds: predLayers.map((v) => round(v / R)),
    identical: identicalAll,
    /** median over rounds of (reference seconds / predictor seconds) in the same round */
    speedup: round(median(rounds.map((r) => r.ratio))),
    ...(training ? { vsTraining: round(n / medPred / training.pointsPerSecond) } : {}),
  },
};
if (values.json) {
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  log(`reference ${result.reference.pointsPerSecond} points/s → predictor ${result.predictor.pointsPerSecond} points/s, ${result.predictor.speedup}× (median of ${R} rounds)` + (training ? `; training ran at ${result.training!.pointsPerSecond} points/s` : ''));
  log(`per-layer seconds per pass, reference: ${result.reference.layerSeconds.join(', ')}`);
  log(`per-layer seconds per pass, predictor: ${result.predictor.layerSeconds.join(', ')}`);
}
const ok = result.predictor.identical && (result.inProcess?.identical ?? true);
if (!ok) {
  log('outputs differ from the reference');
  process.exitCode = 1;
}
