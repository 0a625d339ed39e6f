/** Well-separated Gaussian blobs with a known answer, for this package's tests (not exported). */
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
