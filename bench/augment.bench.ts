/**
 * The teacher-labelled distortions (packages/pipeline/src/augment.ts) against the implementation
 * they replaced on 2026-12-04 (kept below, verbatim, as the baseline), interleaved in one process on
 * the same MNIST digits, with identical bytes checked. Prints copies/s of each and their ratio.
 *
 *   npm run bench:augment -- [--copies 20000] [--rounds 3] [--json]
 */
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { loadDataset, type Matrix } from '@cmbn/data';
import { streamFor } from '@cmbn/mbn';
import { augmentImages, isSquareImage, MILD_AUGMENT, type AugmentOptions } from '@cmbn/pipeline';

const { values } = parseArgs({ options: { copies: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '3' }, json: { type: 'boolean', default: false } } });
const copies = Number(values.copies);
const rounds = Number(values.rounds);
const x = (await loadDataset('mnist', { limit: 10_000 })).x;
const digest = (m: Matrix): string => createHash('sha256').update(new Uint8Array(m.data.buffer, m.data.byteOffset, m.data.byteLength)).digest('hex');

type Impl = (x: Matrix, count: number, seed: number, opts?: AugmentOptions) => Matrix;
function time(impl: Impl): { seconds: number; digest: string } {
  const t = performance.now();
  // The pipeline's mix: 60 % default-strength copies, 40 % mild ones.
  const strong = impl(x, Math.round(copies * 0.6), 1);
  const mild = impl(x, copies - Math.round(copies * 0.6), 1, { ...MILD_AUGMENT, firstCopy: Math.round(copies * 0.6) });
  const seconds = (performance.now() - t) / 1000;
  return { seconds, digest: digest(strong) + digest(mild) };
}

const rows: { round: number; baselineCopiesPerSecond: number; copiesPerSecond: number; ratio: number }[] = [];
for (let r = 1; r <= rounds; r++) {
  const b = time(augmentImagesBaseline);
  const n = time(augmentImages);
  if (b.digest !== n.digest) throw new Error(`round ${r}: the distortions differ from the baseline's bytes`);
  rows.push({ round: r, baselineCopiesPerSecond: copies / b.seconds, copiesPerSecond: copies / n.seconds, ratio: b.seconds / n.seconds });
  process.stderr.write(`round ${r}: baseline ${(copies / b.seconds).toFixed(0)} copies/s, now ${(copies / n.seconds).toFixed(0)} copies/s: ${(b.seconds / n.seconds).toFixed(2)}× (identical bytes)\n`);
}
const ratios = rows.map((r) => r.ratio).sort((a, b) => a - b);
const median = ratios[Math.floor(ratios.length / 2)]!;
process.stderr.write(`median ${median.toFixed(2)}× over ${rounds} rounds of ${copies} copies\n`);
if (values.json) process.stdout.write(`${JSON.stringify({ copies, rounds: rows, medianRatio: median, identical: true })}\n`);

// ---- the baseline: augment.ts's augmentImages before 2026-12-04, unchanged ----
function augmentImagesBaseline(x: Matrix, count: number, seed: number, opts: AugmentOptions = {}): Matrix {
  if (!isSquareImage(x)) throw new RangeError(`augmentation needs square images; ${x.cols} columns is not a square`);
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer, got ${count}`);
  if (x.rows < 1 && count > 0) throw new RangeError('no rows to augment');
  const side = Math.round(Math.sqrt(x.cols));
  const d = x.cols;
  const rot = ((opts.maxRotateDeg ?? 12) * Math.PI) / 180;
  const maxScale = opts.maxScale ?? 0.1;
  const maxShear = opts.maxShear ?? 0.15;
  const maxShift = opts.maxShift ?? 2;
  const alpha = opts.elasticAlpha ?? 1.5;
  const first = opts.firstCopy ?? 0;
  const u8 = x.dtype === 'uint8';
  const out = u8 ? new Uint8Array(count * d) : new Float32Array(count * d);
  const src = new Float32Array(d);
  const dx = new Float32Array(d);
  const dy = new Float32Array(d);
  const c = (side - 1) / 2;
  // Elastic field: random displacements on a coarse (G×G) grid, bilinearly upsampled, so it is smooth.
  const G = 4;
  const gx = new Float32Array(G * G);
  const gy = new Float32Array(G * G);
  for (let r = 0; r < count; r++) {
    const rng = streamFor(seed, 0, first + r);
    const uni = (m: number): number => (2 * rng.nextFloat() - 1) * m;
    const row = r % x.rows;
    for (let j = 0; j < d; j++) src[j] = x.data[row * d + j]!;
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
    }
    const base = r * d;
    for (let i = 0; i < side; i++) {
      const py = i - c - ty;
      for (let j = 0; j < side; j++) {
        const px = j - c - tx;
        const e = i * side + j;
        const sx = a00 * px + a01 * py + c + (alpha > 0 ? dx[e]! : 0);
        const sy = a10 * px + a11 * py + c + (alpha > 0 ? dy[e]! : 0);
        const v = bilinearBaseline(src, side, sx, sy);
        out[base + e] = u8 ? Math.min(255, Math.max(0, Math.round(v))) : v;
      }
    }
  }
  return (u8 ? { rows: count, cols: d, dtype: 'uint8', data: out } : { rows: count, cols: d, dtype: 'float32', data: out }) as Matrix;
}

/** Bilinear sample of a side×side image at (x = column, y = row); outside the image reads 0. */
function bilinearBaseline(img: Float32Array, side: number, x: number, y: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const wx = x - x0;
  const wy = y - y0;
  const at = (yy: number, xx: number): number => (yy >= 0 && yy < side && xx >= 0 && xx < side ? img[yy * side + xx]! : 0);
  return (1 - wy) * ((1 - wx) * at(y0, x0) + wx * at(y0, x0 + 1)) + wy * ((1 - wx) * at(y0 + 1, x0) + wx * at(y0 + 1, x0 + 1));
}

