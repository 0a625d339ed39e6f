/**
 * Teacher-labelled augmentation for distillation: small random affine + elastic distortions of the
 * training images, which the caller then labels by querying the teacher (MBN's `predict`). The
 * student still sees only the points MBN was trained on, and transformed versions of them; their
 * labels are the teacher's answers, not copies of the original point's label, so a distortion that
 * moves a digit across one of MBN's cluster boundaries teaches the student where that boundary is.
 *
 * Pure computation, deterministic from (x, count, seed): copy r is a distortion of source row
 * r mod x.rows, drawn from its own stream `streamFor(seed, 0, firstCopy + r)` (layer 0: no MBN layer
 * uses it).
 */
import type { Matrix } from '@cmbn/data';
import { streamFor } from '@cmbn/mbn';

export interface AugmentOptions {
  /** Max rotation, degrees (uniform in ±). Default 12. */
  maxRotateDeg?: number;
  /** Max relative scale change (uniform in 1 ± this). Default 0.1. */
  maxScale?: number;
  /** Max shear (uniform in ±, as a fraction). Default 0.15. */
  maxShear?: number;
  /** Max translation in pixels (uniform in ±, per axis). Default 2. */
  maxShift?: number;
  /** Elastic displacement amplitude in pixels (a smooth random field; 0 turns it off). Default 1.5. */
  elasticAlpha?: number;
  /** Copy r draws from stream (seed, 0, firstCopy + r), so batches made with different options never share draws. Default 0. */
  firstCopy?: number;
}

/**
 * Milder distortions than the defaults. On MNIST (MBN of the first 10k training digits, V=100) MBN
 * gives 27% of default-strength copies a different label from their original, and 7.8% of mild
 * copies, close to the 6.6% of test digits where the student and MBN disagree: the mild copies probe
 * the boundaries where held-out points fall, the strong ones reach further out; the mix beats either.
 */
export const MILD_AUGMENT: Readonly<AugmentOptions> = Object.freeze({ maxRotateDeg: 6, maxScale: 0.05, maxShear: 0.08, maxShift: 1, elasticAlpha: 1 });

/** Whether x's rows can be read as square single-channel images (side ≥ 4). */
export function isSquareImage(x: Pick<Matrix, 'cols'>): boolean {
  const side = Math.round(Math.sqrt(x.cols));
  return side * side === x.cols && side >= 4;
}

/**
 * `count` distorted copies of x's rows (copy r distorts row r mod x.rows), same dtype, bilinear
 * resampling. uint8 output is rounded and clamped to 0..255.
 */
export function augmentImages(x: Matrix, count: number, seed: number, opts: AugmentOptions = {}): Matrix {
  const out = newAugmentOutput(x, count);
  augmentRange(x, out, 0, count, seed, opts);
  return out;
}

/** Copies made between two yields to the event loop by augmentImagesAsync: tens of milliseconds of work. */
const ASYNC_CHUNK = 256;

/**
 * augmentImages with the same bytes, made in chunks with a yield to the event loop between them, so
 * a worker's lock renewals and cancel messages are served while 150k–900k copies are made (minutes of
 * CPU at paper scale). Stops between chunks when `signal` aborts (an AbortError).
 */
export async function augmentImagesAsync(x: Matrix, count: number, seed: number, opts: AugmentOptions = {}, signal?: AbortSignal): Promise<Matrix> {
  const out = newAugmentOutput(x, count);
  for (let r = 0; r < count; r += ASYNC_CHUNK) {
    signal?.throwIfAborted();
    augmentRange(x, out, r, Math.min(count, r + ASYNC_CHUNK), seed, opts);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  signal?.throwIfAborted();
  return out;
}

function newAugmentOutput(x: Matrix, count: number): Matrix {
  if (!isSquareImage(x)) throw new RangeError(`augmentation needs square images; ${x.cols} columns is not a square`);
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer, got ${count}`);
  if (x.rows < 1 && count > 0) throw new RangeError('no rows to augment');
  const d = x.cols;
  return (x.dtype === 'uint8' ? { rows: count, cols: d, dtype: 'uint8', data: new Uint8Array(count * d) } : { rows: count, cols: d, dtype: 'float32', data: new Float32Array(count * d) }) as Matrix;
}

/**
 * Copies [from, to) of `out`. Each pixel is resampled into a float64 row first and stored by a
 * dtype-specific loop afterwards: one store type per loop keeps V8's stores monomorphic (the mixed
 * store and the per-pixel sampling closure cost ~4× before). The arithmetic is unchanged, expression
 * for expression, so the bytes are too (augment.test.ts holds their digests).
 */
function augmentRange(x: Matrix, out: Matrix, from: number, to: number, seed: number, opts: AugmentOptions): void {
  const side = Math.round(Math.sqrt(x.cols));
  const d = x.cols;
  const rot = ((opts.maxRotateDeg ?? 12) * Math.PI) / 180;
  const maxScale = opts.maxScale ?? 0.1;
  const maxShear = opts.maxShear ?? 0.15;
  const maxShift = opts.maxShift ?? 2;
  const alpha = opts.elasticAlpha ?? 1.5;
  const first = opts.firstCopy ?? 0;
  const src = new Float32Array(d);
  const row = new Float64Array(d);
  const dx = new Float32Array(d);
  const dy = new Float32Array(d);
  const c = (side - 1) / 2;
  // Elastic field: random displacements on a coarse (G×G) grid, bilinearly upsampled, so it is smooth.
  const G = 4;
  const gx = new Float32Array(G * G);
  const gy = new Float32Array(G * G);
  for (let r = from; r < to; r++) {
    const rng = streamFor(seed, 0, first + r);
    const uni = (m: number): number => (2 * rng.nextFloat() - 1) * m;
    const srcRow = r % x.rows;
    for (let j = 0; j < d; j++) src[j] = x.data[srcRow * d + j]!;
    const theta = uni(rot);
    const s = 1 + uni(maxScale);
    const sh = uni(maxShear);
    const tx = uni(maxShift);
    const ty = uni(maxShift);
    // Output pixel p maps to source point A·(p − c − t) + c, with A the inverse of scale·rotation·shear.
    const cos = Math.cos(theta) / s;
    const sin = Math.sin(theta) / s;
    const a00 = cos;
    const a01 = sin - cos * sh;
    const a10 = -sin;
    const a11 = cos + sin * sh;
    if (alpha > 0) {
      for (let g = 0; g < G * G; g++) {
        gx[g] = uni(alpha);
        gy[g] = uni(alpha);
      }
      for (let i = 0; i < side; i++) {
        const fi = (i / (side - 1)) * (G - 1);
        const i0 = Math.min(G - 2, Math.floor(fi));
        const wi = fi - i0;
        for (let j = 0; j < side; j++) {
          const fj = (j / (side - 1)) * (G - 1);
          const j0 = Math.min(G - 2, Math.floor(fj));
          const wj = fj - j0;
          const k = i0 * G + j0;
          const w00 = (1 - wi) * (1 - wj);
          const w01 = (1 - wi) * wj;
          const w10 = wi * (1 - wj);
          const w11 = wi * wj;
          dx[i * side + j] = w00 * gx[k]! + w01 * gx[k + 1]! + w10 * gx[k + G]! + w11 * gx[k + G + 1]!;
          dy[i * side + j] = w00 * gy[k]! + w01 * gy[k + 1]! + w10 * gy[k + G]! + w11 * gy[k + G + 1]!;
        }
      }
    } else {
      dx.fill(0);
      dy.fill(0);
    }
    for (let i = 0; i < side; i++) {
      const py = i - c - ty;
      for (let j = 0; j < side; j++) {
        const px = j - c - tx;
        const e = i * side + j;
        // + 0 when there is no elastic field: the same sums as before (x + 0 === x for every finite x).
        row[e] = bilinear(src, side, a00 * px + a01 * py + c + dx[e]!, a10 * px + a11 * py + c + dy[e]!);
      }
    }
    const base = r * d;
    if (out.dtype === 'uint8') {
      const o = out.data;
      for (let e = 0; e < d; e++) o[base + e] = Math.min(255, Math.max(0, Math.round(row[e]!)));
    } else {
      const o = out.data as Float32Array;
      for (let e = 0; e < d; e++) o[base + e] = row[e]!;
    }
  }
}

/** Bilinear sample of a side×side image at (x = column, y = row); outside the image reads 0. */
function bilinear(img: Float32Array, side: number, x: number, y: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const wx = x - x0;
  const wy = y - y0;
  const x1 = x0 + 1;
  const y1 = y0 + 1;
  const inX0 = x0 >= 0 && x0 < side;
  const inX1 = x1 >= 0 && x1 < side;
  const v00 = y0 >= 0 && y0 < side && inX0 ? img[y0 * side + x0]! : 0;
  const v01 = y0 >= 0 && y0 < side && inX1 ? img[y0 * side + x1]! : 0;
  const v10 = y1 >= 0 && y1 < side && inX0 ? img[y1 * side + x0]! : 0;
  const v11 = y1 >= 0 && y1 < side && inX1 ? img[y1 * side + x1]! : 0;
  return (1 - wy) * ((1 - wx) * v00 + wx * v01) + wy * ((1 - wx) * v10 + wx * v11);
}
