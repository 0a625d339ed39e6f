/**
 * Student bench on MNIST (tfjs-wasm training, onnxruntime vs tfjs prediction). Prints one JSON line.
 *   npx tsx packages/distill/bench/student.bench.ts            # DEFAULT_STUDENT_SPEC on 10k digits
 *   HIDDEN=512,512 EPOCHS=10 npx tsx packages/distill/bench/student.bench.ts
 *   FIT_BASELINE=1 …   also times one epoch of tfjs `model.fit` on the same net (the slow path replaced)
 */
import { availableParallelism } from 'node:os';
import { createStudentPredictor, DEFAULT_STUDENT_SPEC, loadTf, trainStudent, type StudentSpec } from '../src/index.ts';
import { readMnist } from '../src/mnist-fixture.ts';

const N_TRAIN = Number(process.env.N_TRAIN ?? 10_000);
const spec: StudentSpec = {
  ...DEFAULT_STUDENT_SPEC,
  ...(process.env.HIDDEN ? { hidden: process.env.HIDDEN.split(',').map(Number) } : {}),
  ...(process.env.EPOCHS ? { epochs: Number(process.env.EPOCHS) } : {}),
  ...(process.env.BATCH ? { batchSize: Number(process.env.BATCH) } : {}),
};
const train = readMnist('train', N_TRAIN);
const test = readMnist('t10k');
const { tf, backend } = await loadTf();

let fitEpochSeconds: number | undefined;
if (process.env.FIT_BASELINE) {
  const m = tf.sequential();
  spec.hidden.forEach((h, i) => m.add(tf.layers.dense({ units: h, activation: 'relu', ...(i === 0 ? { inputShape: [784] } : {}) })));
  m.add(tf.layers.dense({ units: 10, activation: 'softmax' }));
  m.compile({ optimizer: tf.train.adam(spec.learningRate), loss: 'categoricalCrossentropy' });
  const xs = tf.tensor2d(Float32Array.from(train.x.data, (v) => v / 255), [N_TRAIN, 784]);
  const ys = tf.oneHot(tf.tensor1d(train.labels, 'int32'), 10);
  const t = performance.now();
  await m.fit(xs, ys, { epochs: 1, batchSize: spec.batchSize, shuffle: false, verbose: 0 });
  fitEpochSeconds = (performance.now() - t) / 1000;
  tf.dispose([xs, ys]);
  m.dispose();
}

const epochSeconds: number[] = [];
const student = await trainStudent(train.x, { kind: 'labels', labels: train.labels, classes: 10 }, spec, {
  onEpoch: (e) => {
    epochSeconds.push(e.seconds);
    process.stderr.write(`epoch ${e.epoch}: loss ${e.loss.toFixed(4)} val ${e.valLoss.toFixed(4)} acc ${e.valAcc?.toFixed(4)} ${e.seconds.toFixed(2)}s\n`);
  },
});

const dims = [784, ...spec.hidden, 10];
let macs = 0;
for (let l = 0; l + 1 < dims.length; l++) macs += dims[l]! * dims[l + 1]!;
const flopPerPoint = 2 * macs;

async function throughput(runtime: 'onnxruntime' | 'tfjs'): Promise<{ pointsPerSecond: number; labels: Int32Array }> {
  const p = await createStudentPredictor(student, { runtime, threads: availableParallelism() });
  let labels = (await p.predict(test.x)).labels!; // warm-up
  const reps = runtime === 'onnxruntime' ? 10 : 3;
  const t = performance.now();
  for (let r = 0; r < reps; r++) labels = (await p.predict(test.x)).labels!;
  const s = (performance.now() - t) / 1000 / reps;
  await p.dispose();
  return { pointsPerSecond: test.x.rows / s, labels };
}
const ort = await throughput('onnxruntime');
const tfj = await throughput('tfjs');
let acc = 0;
let agree = 0;
for (let i = 0; i < test.x.rows; i++) {
  if (ort.labels[i] === test.labels[i]) acc++;
  if (ort.labels[i] === tfj.labels[i]) agree++;
}
// MBN predict reference from the brief: V·k1·d FLOP/point (V=100, k1=5000, d=784, a=0.5 → 2·d/2) at ~130 GFLOP/s.
const mbnFlopPerPoint = 100 * 5000 * 784;
const mbnPointsPerSecond = 130e9 / mbnFlopPerPoint;
const sorted = [...epochSeconds].sort((a, b) => a - b);
console.log(
  JSON.stringify({
    bench: 'student',
    backend,
    cores: availableParallelism(),
    nTrain: N_TRAIN,
    hidden: spec.hidden,
    batchSize: spec.batchSize,
    epochsRun: student.epochs,
    trainSeconds: +student.seconds.toFixed(2),
    epochSecondsMedian: +sorted[Math.floor(sorted.length / 2)]!.toFixed(3),
    trainGflops: +((6 * macs * N_TRAIN * (1 - spec.validationSplit)) / sorted[Math.floor(sorted.length / 2)]! / 1e9).toFixed(2),
    ...(fitEpochSeconds !== undefined ? { fitEpochSeconds: +fitEpochSeconds.toFixed(2) } : {}),
    testAccuracyTrueLabels: acc / test.x.rows,
    ortTfjsAgreement: agree / test.x.rows,
    flopPerPoint,
    ortPointsPerSecond: Math.round(ort.pointsPerSecond),
    ortGflops: +((ort.pointsPerSecond * flopPerPoint) / 1e9).toFixed(1),
    tfjsPointsPerSecond: Math.round(tfj.pointsPerSecond),
    mbnPointsPerSecondModel: +mbnPointsPerSecond.toFixed(1),
    speedupVsMbnModel: Math.round(ort.pointsPerSecond / mbnPointsPerSecond),
  }),
);
