/**
 * Inverted lists for the sparse upper layers: for each kept one-hot feature f = u*kp + id, the
 * centres whose clustering-u code is id. CSR layout: centres of feature f are
 * `centres[offsets[f] .. offsets[f+1])`, ascending. Features that are not kept get empty lists,
 * which is how the clustering's feature subsampling enters the score without a per-point test.
 */
export interface SparseCentreIndex {
  /** Vp*kp + 1 entries */
  offsets: Int32Array;
  /** centre ids, grouped by feature */
  centres: Uint16Array;
  Vp: number;
  kp: number;
  k: number;
}

/** One clustering of a sparse layer: the one-hot features it keeps and its k centres' codes (k×Vp). */
export interface SparseClusteringCodes {
  keptFeatures: Uint32Array;
  centreCodes: Uint16Array;
}

export function buildSparseCentreIndex(
  Vp: number,
  kp: number,
  keptFeatures: Uint32Array,
  centreCodes: Uint16Array,
  k: number,
): SparseCentreIndex {
  const { offsets, entries } = buildInvertedLists(Vp, kp, [{ keptFeatures, centreCodes }], k, Uint16Array);
  return { offsets, centres: entries, Vp, kp, k };
}

/**
 * The CSR inverted lists of G clusterings of k centres each, merged: the list of feature f holds
 * g·k + j for each clustering g that keeps f and whose centre j has code id at u. With G = 1 the
 * entries are the centre ids (buildSparseCentreIndex); a group's are its slots
 * (buildSparseGroupIndexJs). `Entries` is the list type: a Uint16Array holds G·k ≤ 65536 only.
 */
export function buildInvertedLists<E extends Uint16Array | Uint32Array>(
  Vp: number,
  kp: number,
  clusterings: ReadonlyArray<SparseClusteringCodes>,
  k: number,
  Entries: new (length: number) => E,
): { offsets: Int32Array; entries: E } {
  if (!Number.isInteger(Vp) || Vp < 1) throw new RangeError(`Vp must be a positive integer, got ${Vp}`);
  if (!Number.isInteger(kp) || kp < 1) throw new RangeError(`kp must be a positive integer, got ${kp}`);
  if (!Number.isInteger(k) || k < 1 || k > 65536) throw new RangeError(`k must be in 1..65536, got ${k}`);
  const G = clusterings.length;
  if (G < 1) throw new RangeError('need at least one clustering');
  const nf = Vp * kp;
  const kept = new Uint8Array(nf);
  const offsets = new Int32Array(nf + 1);
  // Two passes (count, then fill) so the lists are exact-size typed arrays; g then j ascending
  // keeps every list sorted, which keeps the accumulation cache-friendly.
  let entries = new Entries(0);
  let cursor = offsets;
  for (let pass = 0; pass < 2; pass++) {
    for (let g = 0; g < G; g++) {
      const { keptFeatures, centreCodes } = clusterings[g]!;
      // One clustering alone keeps its marks from the count pass to the fill pass.
      if (pass === 0 || G > 1) {
        if (centreCodes.length < k * Vp) throw new RangeError(`centreCodes has ${centreCodes.length} values, need k*Vp = ${k * Vp}`);
        for (let t = 0; t < keptFeatures.length; t++) {
          const f = keptFeatures[t]!;
          if (f >= nf) throw new RangeError(`kept feature ${f} out of range 0..${nf - 1}`);
          kept[f] = 1;
        }
      }
      const base = g * k;
      for (let j = 0; j < k; j++) {
        const co = j * Vp;
        for (let u = 0; u < Vp; u++) {
          const id = centreCodes[co + u]!;
          if (id >= kp) throw new RangeError(`centreCodes[${co + u}] = ${id} is not < kp = ${kp}`);
          const f = u * kp + id;
          if (kept[f]) {
            if (pass === 0) offsets[f + 1]!++;
            else entries[cursor[f]!++] = base + j;
          }
        }
      }
      if (G > 1) for (let t = 0; t < keptFeatures.length; t++) kept[keptFeatures[t]!] = 0;
    }
    if (pass === 0) {
      for (let f = 0; f < nf; f++) offsets[f + 1]! += offsets[f]!;
      entries = new Entries(offsets[nf]!);
      cursor = offsets.slice(0, nf);
    }
  }
  return { offsets, entries };
}
