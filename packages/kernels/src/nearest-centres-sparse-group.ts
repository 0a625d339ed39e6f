/**
 * Nearest centres of G clusterings of one sparse layer at once, from one merged inverted index.
 *
 * Why: with one clustering at a time (nearest-centres-sparse.ts) every (point, previous clustering
 * u) costs a code load and an inverted-list lookup, Vp = 400 of them per point, while the matches
 * that list walk finds are only ≈ Vp·a·k/kp ≈ 100 per point. Those per-(point, u) lookups, plus
 * the k-long argmax scan per point, were ~90 % of the sparse layers' time. All clusterings of a
 * layer read the same point codes, so one lookup of feature f = u·kp + id in a merged index can
 * serve every clustering of a group: the list of f holds slots g·k + j for each clustering g of
 * the group whose kept features include f and whose centre j has code id at u. The per-point
 * overhead falls from Vp per clustering to Vp/G, and the argmax replays the same (few) list
 * entries instead of scanning k scores, unless the point matched so often that a scan is cheaper.
 *
 * The answer is the same as nearestCentresSparse's for each clustering: max shared kept features,
 * ties → lowest centre index, centre 0 when nothing matches.
 *
 * buildSparseGroupIndex and assignSparseGroup run in C++ (native/sparse-group.cc) when the addon
 * is built, else the JS below; sparse-kernel.ts decides (CMBN_SPARSE_KERNEL). The ids are the same.
 */
import { argmaxClearing } from './nearest-centres-sparse.ts';
import { buildInvertedLists, type SparseClusteringCodes } from './sparse-centre-index.ts';
import { sparseKernelAddon, type SparseKernelAddon } from './sparse-kernel.ts';

export interface SparseGroupIndex {
  /** Vp*kp + 1 entries */
  offsets: Int32Array;
  /**
   * slots g*k + j, grouped by feature; within a feature ascending. The native build stores them in
   * two bytes when G·k ≤ 65536 (always, for groups of sparseGroupSize): the assignment streams
   * them, and memory bandwidth is what bounds it.
   */
  slots: Uint16Array | Uint32Array;
  Vp: number;
  kp: number;
  k: number;
  G: number;
}

/** Scores a block of points keeps live: block·G·k Int32 values, kept within L2 (256 KB). */
const SCORE_BUDGET = 1 << 16;
/**
 * The replay costs a few dependent loads, a branch and a division per list entry, a scan of the
 * G·k scores about one load each: replay only when the entries are this many times fewer
 * (measured on MNIST codes: at ~20 % of G·k the replay was ~2× slower than the scan).
 */
const REPLAY_RATIO = 8;
/** Most clusterings in one group (bounds the index, ~G·k·Vp·a entries). */
const MAX_GROUP = 64;

/** Clusterings per group for centre count k and `width` clusterings to do. */
export function sparseGroupSize(k: number, width: number): number {
  return Math.max(1, Math.min(width, MAX_GROUP, Math.floor(SCORE_BUDGET / k)));
}

export function buildSparseGroupIndex(
  Vp: number,
  kp: number,
  clusterings: ReadonlyArray<SparseClusteringCodes>,
  k: number,
): SparseGroupIndex {
  return buildSparseGroupIndexWith(sparseKernelAddon(), Vp, kp, clusterings, k);
}

/** buildSparseGroupIndex on the given addon's kernel, or the JS one for null, whatever CMBN_SPARSE_KERNEL says. */
export function buildSparseGroupIndexWith(
  addon: SparseKernelAddon | null,
  Vp: number,
  kp: number,
  clusterings: ReadonlyArray<SparseClusteringCodes>,
  k: number,
): SparseGroupIndex {
  if (!addon) return buildSparseGroupIndexJs(Vp, kp, clusterings, k);
  const { offsets, slots } = addon.sparseGroupBuild(
    Vp,
    kp,
    k,
    clusterings.map((c) => c.keptFeatures),
    clusterings.map((c) => c.centreCodes),
  );
  return { offsets, slots, Vp, kp, k, G: clusterings.length };
}

/**
 * Assigns every row to its nearest centre in each of the index's G clusterings: clustering g's
 * answer for row i goes to out[i*outStride + outOffset + g]. Returns the score increments done.
 */
export function assignSparseGroup(index: SparseGroupIndex, codes: Uint16Array, n: number, out: Uint16Array, outStride: number, outOffset: number): number {
  return assignSparseGroupWith(sparseKernelAddon(), index, codes, n, out, outStride, outOffset);
}

/** assignSparseGroup on the given addon's kernel, or the JS one for null, whatever CMBN_SPARSE_KERNEL says. */
export function assignSparseGroupWith(
  addon: SparseKernelAddon | null,
  index: SparseGroupIndex,
  codes: Uint16Array,
  n: number,
  out: Uint16Array,
  outStride: number,
  outOffset: number,
): number {
  if (!addon) return assignSparseGroupJs(index, codes, n, out, outStride, outOffset);
  const { offsets, slots, Vp, kp, k, G } = index;
  return addon.sparseGroupAssign(offsets, slots, Vp, kp, k, G, codes, n, out, outStride, outOffset);
}

/** The JS build: buildSparseGroupIndex without the addon. */
export function buildSparseGroupIndexJs(
  Vp: number,
  kp: number,
  clusterings: ReadonlyArray<SparseClusteringCodes>,
  k: number,
): SparseGroupIndex {
  const { offsets, entries } = buildInvertedLists(Vp, kp, clusterings, k, Uint32Array);
  return { offsets, slots: entries, Vp, kp, k, G: clusterings.length };
}

/** The JS assignment: assignSparseGroup without the addon. */
export function assignSparseGroupJs(
  index: SparseGroupIndex,
  codes: Uint16Array,
  n: number,
  out: Uint16Array,
  outStride: number,
  outOffset: number,
): number {
  const { offsets, slots, Vp, kp, k, G } = index;
  if (codes.length < n * Vp) throw new RangeError(`codes has ${codes.length} values, need n*Vp = ${n * Vp}`);
  if (n > 0 && (outOffset < 0 || outStride < 0 || (n - 1) * outStride + outOffset + G - 1 >= out.length)) {
    throw new RangeError(`out (length ${out.length}) too short for stride ${outStride}, offset ${outOffset}, ${G} clusterings, n ${n}`);
  }
  const GK = G * k;
  const B = Math.max(1, Math.min(128, Math.floor(SCORE_BUDGET / GK)));
  const scores = new Int32Array(B * GK);
  // The list range each (row of the block, u) walked, replayed by the argmax.
  const rs = new Int32Array(B * Vp);
  const re = new Int32Array(B * Vp);
  const bestS = new Int32Array(G);
  const bestSlot = new Int32Array(G);
  let accumulations = 0;
  for (let i0 = 0; i0 < n; i0 += B) {
    const nb = Math.min(B, n - i0);
    // u outer, rows inner: the offsets and lists of one u are a small contiguous region, so they
    // stay in cache for the whole block. (assignSparse walks alike, apart for the reason it gives.)
    for (let u = 0; u < Vp; u++) {
      const fu = u * kp;
      for (let b = 0; b < nb; b++) {
        const id = codes[(i0 + b) * Vp + u]!;
        if (id >= kp) throw new RangeError(`codes[${(i0 + b) * Vp + u}] = ${id} is not < kp = ${kp}`);
        const f = fu + id;
        const start = offsets[f]!;
        const end = offsets[f + 1]!;
        rs[b * Vp + u] = start;
        re[b * Vp + u] = end;
        const so = b * GK;
        for (let p = start; p < end; p++) scores[so + slots[p]!]!++;
      }
    }
    for (let b = 0; b < nb; b++) {
      const so = b * GK;
      const ro = b * Vp;
      let total = 0;
      for (let u = 0; u < Vp; u++) total += re[ro + u]! - rs[ro + u]!;
      accumulations += total;
      const row = (i0 + b) * outStride + outOffset;
      if (total * REPLAY_RATIO < GK) {
        // Replay: only touched scores can be > 0. A slot seen again after being zeroed reads 0,
        // which never beats a best that its first visit already made ≥ 1.
        for (let g = 0; g < G; g++) {
          bestS[g] = 0;
          bestSlot[g] = g * k;
        }
        for (let u = 0; u < Vp; u++) {
          const end = re[ro + u]!;
          for (let p = rs[ro + u]!; p < end; p++) {
            const s = slots[p]!;
            const sc = scores[so + s]!;
            if (sc === 0) continue;
            scores[so + s] = 0;
            const g = (s / k) | 0;
            const bs = bestS[g]!;
            if (sc > bs || (sc === bs && s < bestSlot[g]!)) {
              bestS[g] = sc;
              bestSlot[g] = s;
            }
          }
        }
        for (let g = 0; g < G; g++) out[row + g] = bestSlot[g]! - g * k;
      } else {
        // The same ascending scan as one clustering's, per clustering of the group.
        for (let g = 0; g < G; g++) out[row + g] = argmaxClearing(scores, so + g * k, k);
      }
    }
  }
  return accumulations;
}
