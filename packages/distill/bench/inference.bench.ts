/**
 * Where the student's prediction time goes: onnxruntime throughput on the 10k MNIST test digits for
 * several shapes, fp32 vs int8, batch sizes and thread counts. Weights are random (Glorot): the
 * time of a dense net does not depend on their values. Prints one JSON line per configuration.
 *   npx tsx packages/distill/bench/inference.bench.ts
 *   HIDDEN='128;256,256' BATCH='1024,10000' THREADS='1,2' PRECISION='fp32,int8' CALIBRATED='1,0' npx tsx …
 * CALIBRATED=1 (default) quantises activations with ranges measured on the training digits, as
 * trainStudent's students do; 0 with each batch's own range (students saved before calibration).
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

for (const hidden of hiddens) {
  const uncalibrated = randomStudent(hidden);
  const calibrated = { ...uncalibrated, activationRanges: await activationRanges(uncalibrated, train.x) };
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
