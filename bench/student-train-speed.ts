/**
 * The student's training speed against this machine's GEMM, measured in the same process run as the
 * training it describes (bench:compression):
 * - effective GFLOP/s of training = (FLOP of one epoch) / (median epoch seconds), where one epoch is,
 *   per training point, the forward pass (2·MAC) and the backward pass (dW and dX, 2·MAC each; layer 0
 *   needs no dX), plus the validation rows' forward pass;
 * - the same-shape GEMM (a 128-row batch, and a 2048-row one, times layer 0's weights) on tfjs-wasm
 *   (the training backend), on onnxruntime's MLAS with every thread, and on numpy/OpenBLAS when python3
 *   has numpy: the ceiling a training route through each would have. Their ratio is what moving the
 *   student's GEMMs to onnxruntime could buy at most; it is a measured ceiling, not a trained route.
 *
 * Run directly, it measures the two trainers side by side in one process (compareTrainers):
 *
 *   npm run bench:student-train                                # JSON on stdout; 20k MNIST rows × 2 epochs, then 10k true labels × 5 epochs
 *   npm run bench:student-train -- --rows 5000 --quality-rows 5000 --quality-epochs 3 --threads 2
 */
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { loadDataset } from '@cmbn/data';
import { createStudentPredictor, DEFAULT_STUDENT_SPEC, firstLayerInput, loadTf, MLP, trainStudent, type StudentInput, type StudentSpec, type StudentTargetData, type TrainedStudent, type TrainOptions } from '@cmbn/distill';

const { onnx } = onnxProto;

const median = (xs: number[]): number => [...xs].sort((p, q) => p - q)[xs.length >> 1] ?? NaN;

/** Multiply-adds per input row of each layer (layer 0 runs once per position: a conv's patches). */
function macsPerRow(s: TrainedStudent): number[] {
  const { positions } = firstLayerInput(s.architecture ?? MLP, s.signature.inputDims);
  return s.layers.map((l, i) => (i === 0 ? positions : 1) * l.inDim * l.outDim);
}

async function timeIt(fn: () => Promise<void> | void, minMs = 400): Promise<number> {
  await fn();
  const times: number[] = [];
  const t0 = performance.now();
  while (times.length < 5 || performance.now() - t0 < minMs) {
    const t = performance.now();
    await fn();
    times.push((performance.now() - t) / 1000);
    if (times.length >= 200) break;
  }
  return median(times);
}

async function tfjsGemm(m: number, k: number, n: number): Promise<number> {
  const { tf } = await loadTf();
  const a = tf.randomUniform([m, k], -1, 1, 'float32', 1);
  const b = tf.randomUniform([k, n], -1, 1, 'float32', 2);
  const s = await timeIt(() => {
    const c = tf.matMul(a, b);
    c.dataSync();
    c.dispose();
  });
  a.dispose();
  b.dispose();
  return (2 * m * k * n) / s / 1e9;
}

async function ortGemm(m: number, k: number, n: number, threads: number): Promise<number> {
  const T = onnx.TensorProto.DataType;
  const vi = (name: string, dims: number[]) =>
    onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType: T.FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
  const graph = onnx.GraphProto.create({
    name: 'gemm',
    node: [onnx.NodeProto.create({ opType: 'MatMul', input: ['A', 'B'], output: ['C'] })],
    input: [vi('A', [m, k]), vi('B', [k, n])],
    output: [vi('C', [m, n])],
  });
  const bytes = onnx.ModelProto.encode(onnx.ModelProto.create({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], graph })).finish();
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, extra: { session: { intra_op: { allow_spinning: '0' } } } });
  const A = new ort.Tensor('float32', Float32Array.from({ length: m * k }, (_, i) => Math.sin(i)), [m, k]);
  const B = new ort.Tensor('float32', Float32Array.from({ length: k * n }, (_, i) => Math.cos(i)), [k, n]);
  const s = await timeIt(async () => {
    (await session.run({ A, B })).C!.dispose();
  });
  await session.release();
  return (2 * m * k * n) / s / 1e9;
}

/** numpy's sgemm (OpenBLAS) with `threads` threads, or undefined when python3/numpy is missing. */
function numpyGemm(m: number, k: number, n: number, threads: number): number | undefined {
  const py = `import numpy as np, time
a=np.random.rand(${m},${k}).astype(np.float32); b=np.random.rand(${k},${n}).astype(np.float32); a@b
ts=[]
t0=time.perf_counter()
while len(ts)<5 or time.perf_counter()-t0<0.4:
    t=time.perf_counter(); a@b; ts.append(time.perf_counter()-t)
ts.sort(); print(2*${m}*${k}*${n}/ts[len(ts)//2]/1e9)`;
  try {
    const env = { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) };
    return Number(Number(execFileSync('python3', ['-c', py], { env, encoding: 'utf8', timeout: 60_000 }).trim()).toFixed(1));
  } catch {
    return undefined;
  }
}

export interface TrainingSpeed {
  trainPoints: number;
  epochs: number;
  medianEpochSeconds: number;
  trainGflopPerEpoch: number;
  effectiveGflops: number;
  /** Same-shape GEMM rates (batch 128 = training's, 2048 = a large batch) on each route. */
  gemm: { shape: string; tfjsWasm: number; ort: number; numpy?: number }[];
  /** effectiveGflops / the machine's sgemm (numpy when present, else ORT) at the large batch. */
  fractionOfSgemm: number;
  /** ORT GEMM / tfjs-wasm GEMM at training's batch: the most an ORT training route could gain on GEMMs. */
  ortOverTfjsAtBatch: number;
}

export async function measureTrainingSpeed(s: TrainedStudent, rows: number, epochSeconds: number[], threads: number, validationSplit = 0.1, batch = 128): Promise<TrainingSpeed> {
  const macs = macsPerRow(s);
  const total = macs.reduce((p, q) => p + q, 0);
  const nVal = Math.round(rows * validationSplit);
  const nTrain = rows - nVal;
  const flop = nTrain * (6 * total - 2 * macs[0]!) + nVal * 2 * total;
  const med = median(epochSeconds);
  const l0 = s.layers[0]!;
  const gemm: TrainingSpeed['gemm'] = [];
  for (const m of [batch, 2048]) {
    const np = numpyGemm(m, l0.inDim, l0.outDim, threads);
    gemm.push({
      shape: `${m}x${l0.inDim}x${l0.outDim}`,
      tfjsWasm: Number((await tfjsGemm(m, l0.inDim, l0.outDim)).toFixed(1)),
      ort: Number((await ortGemm(m, l0.inDim, l0.outDim, threads)).toFixed(1)),
      ...(np !== undefined ? { numpy: np } : {}),
    });
  }
  const eff = flop / med / 1e9;
  const big = gemm[1]!;
  return {
    trainPoints: nTrain,
    epochs: epochSeconds.length,
    medianEpochSeconds: Number(med.toFixed(2)),
    trainGflopPerEpoch: Number((flop / 1e9).toFixed(1)),
    effectiveGflops: Number(eff.toFixed(1)),
    gemm,
    fractionOfSgemm: Number((eff / (big.numpy ?? big.ort)).toFixed(3)),
    ortOverTfjsAtBatch: Number((gemm[0]!.ort / gemm[0]!.tfjsWasm).toFixed(2)),
  };
}

/**
 * trainStudent on tfjs-wasm against trainStudentOrt (trainer 'ort', on `threads` and on 1 thread, as
 * tfjs-wasm trains on one), in one process run so that a loaded machine slows both alike:
 * - speed: epoch seconds on `rows` MNIST training digits (uint8, 784 columns), the default [512, 512]
 *   student, 10 classes of arbitrary (seeded) soft targets, `epochs` epochs, batch 128;
 * - quality: the validation accuracy each reaches on MNIST's true labels (`qualityRows` digits,
 *   `qualityEpochs` epochs), and the test accuracy on the 10k test digits (fp32 onnxruntime predict),
 *   so that speed is not bought with accuracy.
 */
export async function compareTrainers(opts: { rows: number; epochs: number; qualityRows: number; qualityEpochs: number; threads: number }) {
  const spec: StudentSpec = { ...DEFAULT_STUDENT_SPEC, epochs: opts.epochs, patience: opts.epochs };
  const routes: { name: string; train: TrainOptions }[] = [
    { name: 'tfjs-wasm', train: { trainer: 'tfjs' } },
    { name: `ort-${opts.threads}t`, train: { trainer: 'ort', threads: opts.threads } },
    ...(opts.threads !== 1 ? [{ name: 'ort-1t', train: { trainer: 'ort' as const, threads: 1 } }] : []),
  ];
  const train = await loadDataset('mnist-train', { limit: Math.max(opts.rows, opts.qualityRows) });
  const rowsOf = (n: number): StudentInput => ({ rows: n, cols: train.x.cols, dtype: 'uint8', data: train.x.data.subarray(0, n * train.x.cols) as Uint8Array });
  // Arbitrary soft targets: a seeded softmax of uniform logits (the speed does not depend on what they say).
  const soft = new Float32Array(opts.rows * 10);
  let u = 12345;
  for (let i = 0; i < opts.rows; i++) {
    let sum = 0;
    for (let j = 0; j < 10; j++) {
      u = (Math.imul(u, 1103515245) + 12345) >>> 0;
      sum += soft[i * 10 + j] = Math.exp((4 * u) / 2 ** 32);
    }
    for (let j = 0; j < 10; j++) soft[i * 10 + j]! /= sum;
  }
  const softTarget: StudentTargetData = { kind: 'labels', labels: train.labels!.subarray(0, opts.rows), classes: 10, soft };
  const speed: Record<string, { epochSeconds: number[]; medianEpochSeconds: number }> = {};
  for (const r of routes) {
    const epochSeconds: number[] = [];
    await trainStudent(rowsOf(opts.rows), softTarget, spec, { ...r.train, onEpoch: (e) => epochSeconds.push(Number(e.seconds.toFixed(3))) });
    speed[r.name] = { epochSeconds, medianEpochSeconds: median(epochSeconds) };
    process.stderr.write(`speed ${r.name}: ${epochSeconds.join(', ')} s/epoch\n`);
  }
  const test = await loadDataset('mnist-test');
  const quality: Record<string, { valAcc: number[]; testAcc: number; seconds: number }> = {};
  const qSpec: StudentSpec = { ...DEFAULT_STUDENT_SPEC, epochs: opts.qualityEpochs };
  for (const r of routes.slice(0, 2)) {
    const student = await trainStudent(rowsOf(opts.qualityRows), { kind: 'labels', labels: train.labels!.subarray(0, opts.qualityRows), classes: 10 }, qSpec, r.train);
    const p = await createStudentPredictor(student, { precision: 'fp32', threads: opts.threads });
    const { labels } = await p.predict(test.x);
    await p.dispose();
    let hits = 0;
    for (let i = 0; i < test.x.rows; i++) if (labels![i] === test.labels![i]) hits++;
    quality[r.name] = { valAcc: student.history.valAcc!.map((a) => Number(a.toFixed(4))), testAcc: Number((hits / test.x.rows).toFixed(4)), seconds: Number(student.seconds.toFixed(1)) };
    process.stderr.write(`quality ${r.name}: val ${quality[r.name]!.valAcc.join(', ')}; test ${quality[r.name]!.testAcc}\n`);
  }
  const tf = speed['tfjs-wasm']!.medianEpochSeconds;
  return {
    bench: 'student-trainers',
    cores: availableParallelism(),
    ...opts,
    hidden: spec.hidden,
    batchSize: spec.batchSize,
    speed,
    // tfjs epoch seconds / ort epoch seconds: > 1 means the onnxruntime trainer is faster.
    speedup: Object.fromEntries(routes.slice(1).map((r) => [r.name, Number((tf / speed[r.name]!.medianEpochSeconds).toFixed(2))])),
    quality,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values: a } = parseArgs({
    options: {
      rows: { type: 'string', default: '20000' },
      epochs: { type: 'string', default: '2' },
      'quality-rows': { type: 'string', default: '10000' },
      'quality-epochs': { type: 'string', default: '5' },
      threads: { type: 'string' },
    },
  });
  const res = await compareTrainers({
    rows: Number(a.rows),
    epochs: Number(a.epochs),
    qualityRows: Number(a['quality-rows']),
    qualityEpochs: Number(a['quality-epochs']),
    threads: a.threads ? Number(a.threads) : availableParallelism(),
  });
  console.log(JSON.stringify(res));
}
