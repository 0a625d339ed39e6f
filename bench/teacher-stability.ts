/**
 * How smooth is MBN's labelling function? MBN's predict on the MNIST test digits against its own labels of
 * perturbed copies: uniform per-pixel noise of a few grey levels, and a ±1-pixel shift (augment.ts with
 * every other distortion off). A student has to learn whatever MBN is not smooth under (docs/STUDENTS.md).
 *
 *   npm run bench:teacher-stability -- --model DIR [--eval-limit N] [--threads N]
 *   (DIR: a saved MBN model, e.g. the one bench:compression --model DIR trains and keeps)
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { loadDataset, type Matrix } from '@cmbn/data';
import { createMbnPredictor, loadModel } from '@cmbn/mbn';
import { labelAgreement } from '@cmbn/metrics';
import { augmentImages } from '@cmbn/pipeline';

const { values: a } = parseArgs({ options: { model: { type: 'string' }, 'eval-limit': { type: 'string' }, threads: { type: 'string' } } });
if (!a.model) throw new Error('--model DIR is required (a saved MBN model)');
const { model, modelHash } = await loadModel(a.model);
const test = await loadDataset('mnist-test', a['eval-limit'] ? { limit: Number(a['eval-limit']) } : {});
const x = test.x;
if (x.dtype !== 'uint8' || x.cols !== model.inputDims) throw new Error(`${a.model} takes ${model.inputDims} columns; mnist-test has ${x.cols} ${x.dtype}`);
const predictor = createMbnPredictor(model, { threads: a.threads ? Number(a.threads) : availableParallelism(), backend: 'ort' });
/** x plus uniform integer noise in [−amp, amp] per pixel, clamped to 0..255, from a fixed LCG (reproducible). */
function noisy(amp: number): Matrix {
  const out = new Uint8Array(x.rows * x.cols);
  let state = 12345 + amp;
  for (let i = 0; i < out.length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    out[i] = Math.max(0, Math.min(255, x.data[i]! + ((state >>> 16) % (2 * amp + 1)) - amp));
  }
  return { rows: x.rows, cols: x.cols, dtype: 'uint8', data: out };
}
try {
  const base = (await predictor.predict(x)).labels;
  const rows: Array<{ perturbation: string; agreement: number }> = [];
  for (const amp of [1, 3, 8]) rows.push({ perturbation: `noise ±${amp} grey levels`, agreement: labelAgreement(base, (await predictor.predict(noisy(amp))).labels) });
  const shifted = augmentImages(x, x.rows, 7, { maxRotateDeg: 0, maxScale: 0, maxShear: 0, maxShift: 1, elasticAlpha: 0 });
  rows.push({ perturbation: '±1-pixel shift', agreement: labelAgreement(base, (await predictor.predict(shifted)).labels) });
  console.log(JSON.stringify({ bench: 'teacher-stability', modelHash, points: x.rows, rows }));
} finally {
  await predictor.dispose();
}
