/**
 * Where the student's prediction time goes: onnxruntime throughput on the 10k MNIST test digits for
 * several shapes, fp32 vs int8, batch sizes and thread counts. Weights are random (Glorot): the
 * time of a dense net does not depend on their values. Prints one JSON line per configuration.
 *   npx tsx packages/distill/bench/inference.bench.ts
 *   HIDDEN='128;256,256' BATCH='1024,10000' THREADS='1,2' PRECISION='fp32,int8' CALIBRATED='1,0' npx tsx …
 * CALIBRATED=1 (default) quantises activations with ranges measured on the training digits, as
 * trainStudent's students do; 0 with each batch's own range (students saved before calibration).
 *
 * Per shape it also prints, before the speed lines:
 *  - `calibrationSeconds`: what activationRanges costs on the 60,000 training digits (the calibrated
 *    student of the speed lines);
 * and, with int8 in PRECISION:
 *  - `labelsMoved`: how many of the 10k test labels differ between batches of 1 and of 10,000 rows,
 *    calibrated and per-batch (the reason for calibration: docs/STUDENTS.md);
 *  - `windowMedians`, for the predictor's default (int8, calibrated, 2,048 rows, all threads): the
 *    median rate of each consecutive one-second window over SPREAD_SECONDS (default 20; 0 skips), the
 *    spread that made distillStudent time the student over 5 s instead of 1 s.
 */
import { availableParallelism } from 'node:os';
import { activationRanges, createStudentPredictor, type StudentPrecision, type TrainedStudent } from '../src/index.ts';
import { readMnist } from '../src/mnist-fixture.ts';
import { glorotUniform, Rng } from '../src/rng.ts';

const test = readMnist('t10k');
const train = readMnist('train');
const hiddens = (process.env.HIDDEN ?? '64;128;256;128,128;256,256').split(';').map((h) => (h === '' ? [] : h.split(',').map(Number)));
const batches = (process.env.BATCH ?? '8192,10000').split(',').map(Number);
const threadsList = (process.env.THREADS ?? String(availableParallelism())).split(',').map(Number);
const precisions = (process.env.PRECISION ?? 'fp32,int8').split(',') as StudentPrecision[];
const minSeconds = Number(process.env.SECONDS ?? 1);
const calibratedList = (process.env.CALIBRATED ?? '1').split(',').map((c) => c === '1');
const spreadSeconds = Number(process.env.SPREAD_SECONDS ?? 20);

function randomStudent(hidden: number[]): TrainedStudent {
  const dims = [784, ...hidden, 10];
  const rng = new Rng(1, 2);
  return {
    signature: { inputDims: 784, inputDType: 'uint8', normalisation: { kind: 'scale', scale: 1 / 255 }, output: { kind: 'labels', size: 10 } },
    backend: 'wasm',
    seconds: 0,
    epochs: 0,
    history: { loss: [], valLoss: [] },
    layers: dims.slice(0, -1).map((d, l) => ({
      weight: glorotUniform(rng, d, dims[l + 1]!),
      bias: new Float32Array(dims[l + 1]!).fill(0.01),
      inDim: d,
      outDim: dims[l + 1]!,
      activation: l < dims.length - 2 ? 'relu' : 'softmax',
    })),
  };
}

/** Labels of the 10k test digits at `batchRows` rows per onnxruntime run. */
async function labelsAt(student: TrainedStudent, batchRows: number): Promise<Int32Array> {
  const predictor = await createStudentPredictor(student, { runtime: 'onnxruntime', threads: 1, batchRows, precision: 'int8' });
  try {
    return (await predictor.predict(test.x)).labels!;
  } finally {
    await predictor.dispose();
  }
}

async function labelsMoved(student: TrainedStudent): Promise<number> {
  const [one, all] = [await labelsAt(student, 1), await labelsAt(student, test.x.rows)];
  let moved = 0;
  for (let i = 0; i < one.length; i++) if (one[i] !== all[i]) moved++;
  return moved;
}

/** Medians of consecutive one-second windows of back-to-back predicts of the 10k test digits. */
async function windowMedians(student: TrainedStudent, seconds: number): Promise<number[]> {
  const predictor = await createStudentPredictor(student, { runtime: 'onnxruntime', threads: availableParallelism(), batchRows: 2048, precision: 'int8' });
  const medians: number[] = [];
  try {
    await predictor.predict(test.x);
    for (let w = 0; w < seconds; w++) {
      const rates: number[] = [];
      const start = performance.now();
      while (performance.now() - start < 1000) {
        const t = performance.now();
        await predictor.predict(test.x);
        rates.push(test.x.rows / ((performance.now() - t) / 1000));
      }
      rates.sort((a, b) => a - b);
      medians.push(Math.round(rates[rates.length >> 1]!));
    }
  } finally {
    await predictor.dispose();
  }
  return medians;
}

for (const hidden of hiddens) {
  const uncalibrated = randomStudent(hidden);
  const c0 = performance.now();
  const calibrated = { ...uncalibrated, activationRanges: await activationRanges(uncalibrated, train.x) };
  const calibrationSeconds = +((performance.now() - c0) / 1000).toFixed(2);
  console.log(JSON.stringify({ hidden, calibrationRows: train.x.rows, calibrationSeconds }));
  if (precisions.includes('int8')) {
    console.log(JSON.stringify({ hidden, labelsMoved: { batches: [1, test.x.rows], of: test.x.rows, calibrated: await labelsMoved(calibrated), perBatch: await labelsMoved(uncalibrated) } }));
  }
  if (precisions.includes('int8') && spreadSeconds > 0) {
    const medians = await windowMedians(calibrated, spreadSeconds);
    console.log(JSON.stringify({ hidden, windowMedians: { precision: 'int8', calibrated: true, batchRows: 2048, min: Math.min(...medians), max: Math.max(...medians), maxOverMin: +(Math.max(...medians) / Math.min(...medians)).toFixed(2), medians } }));
  }
  const dims = [784, ...hidden, 10];
  let macs = 0;
  for (let l = 0; l + 1 < dims.length; l++) macs += dims[l]! * dims[l + 1]!;
  const configs: Array<[StudentPrecision, boolean]> = precisions.flatMap((p): Array<[StudentPrecision, boolean]> => (p === 'int8' ? calibratedList.map((c) => [p, c]) : [[p, true]]));
  // All of a shape's configurations are timed round-robin, so that load drifting on a shared machine
  // hits each of them alike (the ratios between rows are the result; absolute rates move with load).
  const runs = [];
  for (const [precision, isCalibrated] of configs) {
    for (const threads of threadsList) {
      for (const batchRows of batches) {
        const predictor = await createStudentPredictor(isCalibrated ? calibrated : uncalibrated, { runtime: 'onnxruntime', threads, batchRows, precision });
        await predictor.predict(test.x);
        runs.push({ precision, isCalibrated, threads, batchRows, predictor, times: [] as number[] });
      }
    }
  }
  const t0 = performance.now();
  while (runs[0]!.times.length < 5 || performance.now() - t0 < minSeconds * 1000 * runs.length) {
    for (const r of runs) {
      const t = performance.now();
      await r.predictor.predict(test.x);
      r.times.push(performance.now() - t);
    }
  }
  for (const { precision, isCalibrated, threads, batchRows, predictor, times } of runs) {
    await predictor.dispose();
    times.sort((a, b) => a - b);
    const median = times[times.length >> 1]! / 1000;
    const pps = test.x.rows / median;
    console.log(
      JSON.stringify({ hidden, precision, ...(precision === 'int8' ? { calibrated: isCalibrated } : {}), threads, batchRows, pointsPerSecond: Math.round(pps), usPerPoint: +((1e6 * median) / test.x.rows).toFixed(2), gmacs: +((pps * macs) / 1e9).toFixed(1) }),
    );
  }
}
