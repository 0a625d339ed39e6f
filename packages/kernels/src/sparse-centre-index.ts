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

export function buildSparseCentreIndex(
  Vp: number,
  kp: number,
  keptFeatures: Uint32Array,
  centreCodes: Uint16Array,
  k: number,
): SparseCentreIndex {
  if (!Number.isInteger(Vp) || Vp < 1) throw new RangeError(`Vp must be a positive integer, got ${Vp}`);
  if (!Number.isInteger(kp) || kp < 1) throw new RangeError(`kp must be a positive integer, got ${kp}`);
  if (!Number.isInteger(k) || k < 1 || k > 65536) throw new RangeError(`k must be in 1..65536, got ${k}`);
  if (centreCodes.length < k * Vp) throw new RangeError(`centreCodes has ${centreCodes.length} values, need k*Vp = ${k * Vp}`);
  const nf = Vp * kp;
  const kept = new Uint8Array(nf);
  for (let t = 0; t < keptFeatures.length; t++) {
    const f = keptFeatures[t]!;
    if (f >= nf) throw new RangeError(`kept feature ${f} out of range 0..${nf - 1}`);
    kept[f] = 1;
  }
  // Two passes (count, then fill) so the lists are exact-size typed arrays; filling j in
  // ascending order keeps each list sorted, which keeps the accumulation cache-friendly.
  const offsets = new Int32Array(nf + 1);
  for (let j = 0; j < k; j++) {
    const co = j * Vp;
    for (let u = 0; u < Vp; u++) {
      const id = centreCodes[co + u]!;
      if (id >= kp) throw new RangeError(`centreCodes[${co + u}] = ${id} is not < kp = ${kp}`);
      const f = u * kp + id;
      if (kept[f]) offsets[f + 1]!++;
    }
  }
  for (let f = 0; f < nf; f++) offsets[f + 1]! += offsets[f]!;
  const centres = new Uint16Array(offsets[nf]!);
  const cursor = offsets.slice(0, nf);
  for (let j = 0; j < k; j++) {
    const co = j * Vp;
    for (let u = 0; u < Vp; u++) {
      const f = u * kp + centreCodes[co + u]!;
      if (kept[f]) centres[cursor[f]!++] = j;
    }
  }
  return { offsets, centres, Vp, kp, k };
}
