/**
 * Nearest centre for the sparse upper layers. A point (and a centre) is Vp one-hot blocks: one
 * active feature u*kp + id per previous clustering u. Score of centre j = number of kept active
 * features shared with the point (the dot product of the masked one-hot vectors); nearest = max
 * score, ties → lowest j.
 *
 * A dense product would cost k·Vp per point; walking the point's Vp inverted lists costs only the
 * matches actually present (≈ Vp·a·k/kp), which is what makes the upper layers cheap.
 */
import { buildSparseCentreIndex, type SparseCentreIndex } from './sparse-centre-index.ts';

export interface SparseStats {
  /** score increments performed (the integer work actually done) */
  accumulations: number;
}

/** Points per block: the block's score rows (block×k Int32) should stay in L2. */
function blockPoints(k: number): number {
  return Math.max(1, Math.min(64, Math.floor(65536 / k)));
}

/**
 * Assigns rows using a prebuilt index; returns the number of score increments done.
 *
 * Points go in blocks with the clustering u in the outer loop: the features of one u,
 * u*kp .. u*kp+kp-1, are a few KB of `offsets` and one contiguous run of `centres`, so they stay in
 * L1 for the whole block instead of costing a cache miss per (point, u) as a point-major walk does.
 */
export function assignSparse(
  index: SparseCentreIndex,
  codes: Uint16Array,
  n: number,
  out: Uint16Array,
  outStride: number,
  outOffset: number,
): number {
  const { offsets, centres, Vp, kp, k } = index;
  if (codes.length < n * Vp) throw new RangeError(`codes has ${codes.length} values, need n*Vp = ${n * Vp}`);
  if (n > 0 && (outOffset < 0 || outStride < 0 || (n - 1) * outStride + outOffset >= out.length)) {
    throw new RangeError(`out (length ${out.length}) too short for stride ${outStride}, offset ${outOffset}, n ${n}`);
  }
  const B = blockPoints(k);
  const scores = new Int32Array(B * k);
  let accumulations = 0;
  for (let i0 = 0; i0 < n; i0 += B) {
    const nb = Math.min(B, n - i0);
    // This walk and assignSparseGroupJs's are alike but stay apart: one function for both would see
    // Uint16 centres and Uint32 slots, and V8 then compiles the increments polymorphic (in an A/B
    // on 2 busy cores the grouped JS assignment ran ~10–20 % slower that way).
    for (let u = 0; u < Vp; u++) {
      const fu = u * kp;
      for (let b = 0; b < nb; b++) {
        const id = codes[(i0 + b) * Vp + u]!;
        if (id >= kp) throw new RangeError(`codes[${(i0 + b) * Vp + u}] = ${id} is not < kp = ${kp}`);
        const f = fu + id;
        const start = offsets[f]!;
        const end = offsets[f + 1]!;
        accumulations += end - start;
        const so = b * k;
        // Branch-free increments; the argmax is taken afterwards in one k-long scan, which
        // measured faster than tracking a running max here (the max test mispredicts).
        for (let p = start; p < end; p++) scores[so + centres[p]!]!++;
      }
    }
    // With no match at all every score is 0 and centre 0 wins.
    for (let b = 0; b < nb; b++) out[(i0 + b) * outStride + outOffset] = argmaxClearing(scores, b * k, k);
  }
  return accumulations;
}

/**
 * The nearest of k centres from their scores at scores[start .. start+k): scans ascending with
 * strict '>' (ties → lowest j) and zeroes the scores for the next block in the same pass.
 */
export function argmaxClearing(scores: Int32Array, start: number, k: number): number {
  let bj = 0;
  let bs = scores[start]!;
  scores[start] = 0;
  for (let j = 1; j < k; j++) {
    const s = scores[start + j]!;
    if (s > bs) {
      bs = s;
      bj = j;
    }
    scores[start + j] = 0;
  }
  return bj;
}

export function nearestCentresSparse(
  codes: Uint16Array,
  n: number,
  Vp: number,
  kp: number,
  keptFeatures: Uint32Array,
  centreCodes: Uint16Array,
  k: number,
  out: Uint16Array,
  outStride: number,
  outOffset: number,
  stats?: SparseStats,
): void {
  const index = buildSparseCentreIndex(Vp, kp, keptFeatures, centreCodes, k);
  const acc = assignSparse(index, codes, n, out, outStride, outOffset);
  if (stats) stats.accumulations += acc;
}
