/** Test fixtures of this package (not exported): blobs with a known answer, and the event-loop probe of the trainers. */
import { Rng } from './rng.ts';
import type { StudentInput } from './types.ts';

export function blobs(n: number, dims: number, classes: number, seed: number, spread = 0.05): { x: StudentInput & { data: Float32Array }; labels: Int32Array; centres: Float32Array } {
  const rng = new Rng(seed, 99);
  const centres = new Float32Array(classes * dims);
  for (let i = 0; i < centres.length; i++) centres[i] = rng.next() * 2 - 1;
  const data = new Float32Array(n * dims);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % classes;
    labels[i] = c;
    for (let j = 0; j < dims; j++) {
      // Box–Muller normal noise.
      const g = Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
      data[i * dims + j] = centres[c * dims + j]! + spread * g;
    }
  }
  return { x: { rows: n, cols: dims, dtype: 'float32', data }, labels, centres };
}

/**
 * Runs `train` with an onBatch hook that arms a setImmediate before each batch and counts the batches
 * at which the previous one had not fired yet: a trainer that holds the event loop across batches (and
 * so starves timers such as a BullMQ lock renewal) shows starved > 0. Counts turns, not time.
 */
export async function eventLoopTurns(train: (onBatch: () => void) => Promise<unknown>): Promise<{ batches: number; starved: number; fired: number }> {
  let fired = 0;
  let armed = 0;
  let batches = 0;
  let starved = 0;
  const arm = () => {
    armed++;
    setImmediate(() => fired++);
  };
  arm();
  await train(() => {
    batches++;
    if (fired < armed - 1) starved++;
    arm();
  });
  return { batches, starved, fired };
}
