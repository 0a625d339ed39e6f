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
 */
import { execFileSync } from 'node:child_process';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { loadTf, type TrainedStudent } from '@cmbn/distill';

const { onnx } = onnxProto;

const median = (xs: number[]): number => [...xs].sort((p, q) => p - q)[xs.length >> 1] ?? NaN;

/** Multiply-adds per input row of each layer (a conv layer 0 runs once per patch position). */
function macsPerRow(s: TrainedStudent): number[] {
  return s.layers.map((l, i) => {
    const positions = i === 0 && s.architecture?.kind === 'conv' ? s.layers[1]!.inDim / l.outDim : 1;
    return positions * l.inDim * l.outDim;
  });
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
