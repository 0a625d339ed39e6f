/**
 * The per-layer work of MBN prediction, shared by the in-process `predict` and the worker threads
 * of `createMbnPredictor`: encoding a batch of points by clusterings v0..v1-1 of one model layer.
 *
 * Prediction labels many batches against the same clusterings, so everything that depends only on
 * the model — each clustering's kept features, its dense centre matrix (transposed for the GEMM,
 * with |c|²), and the sparse layers' merged inverted indices — is built once per part and kept
 * while a byte budget allows; what does not fit is rebuilt on each call. Either way every answer
 * is the exact nearest centre with training's tie rule (lowest index), so the ids are the same
 * bytes as the one-clustering-at-a-time reference (predict-reference.ts).
 */
import {
  assignSparseGroup,
  buildSparseGroupIndex,
  gatherDenseCentres,
  nearestCentresDensePrepared,
  sparseGroupSize,
  type DenseBackend,
  type DenseCentres,
  type DenseKernel,
  type SparseGroupIndex,
} from '@cmbn/kernels';
import { gatherDense, type CodeInput } from './layer.ts';
import { keptFeatures, type ModelLayer } from './model.ts';

/** A batch of raw points (the bottom layer's input). */
export interface DensePoints {
  kind: 'dense';
  n: number;
  cols: number;
  data: Uint8Array | Float32Array;
}

/** What a layer encodes: raw points for layer 1, the previous layer's code above. */
export type LayerPoints = DensePoints | CodeInput;

/** Bytes a set of parts may keep between calls; shared (and drawn down) by every part of one owner. */
export interface CacheBudget {
  left: number;
}

/** Keeps `bytes` if the budget allows (and says whether it did). */
function reserve(budget: CacheBudget, bytes: number): boolean {
  if (bytes > budget.left) return false;
  budget.left -= bytes;
  return true;
}

function denseCentresBytes(c: DenseCentres): number {
  return c.ct.byteLength + c.h64.byteLength + c.h32.byteLength;
}

interface SparseGroup {
  v0: number;
  v1: number;
  index: SparseGroupIndex | undefined;
}

/** Clusterings v0..v1-1 of one model layer, ready to encode batches. */
export class LayerPart {
  readonly width: number;
  private readonly features: Uint32Array[] = [];
  private readonly dense: (DenseCentres | undefined)[] = [];
  private readonly groups: SparseGroup[] = [];

  constructor(
    readonly layer: ModelLayer,
    readonly kernel: DenseKernel,
    readonly v0: number,
    readonly v1: number,
    private readonly budget: CacheBudget,
  ) {
    if (!(Number.isInteger(v0) && Number.isInteger(v1) && 0 <= v0 && v0 < v1 && v1 <= layer.V)) {
      throw new RangeError(`clusterings ${v0}..${v1} are not a range of layer ${layer.layer}'s 0..${layer.V}`);
    }
    this.width = v1 - v0;
    if (layer.input.kind === 'dense') {
      // Kept features are a few KB per clustering: always kept.
      for (let v = v0; v < v1; v++) this.features.push(keptFeatures(layer, v));
    } else {
      const G = sparseGroupSize(layer.k, this.width);
      for (let g0 = v0; g0 < v1; g0 += G) this.groups.push({ v0: g0, v1: Math.min(v1, g0 + G), index: undefined });
    }
  }

  private centreRows(v: number): Uint16Array | Uint32Array {
    const { k } = this.layer;
    return this.layer.centres.subarray(v * k, (v + 1) * k);
  }

  private denseCentres(v: number): DenseCentres {
    const i = v - this.v0;
    const cached = this.dense[i];
    if (cached) return cached;
    const input = this.layer.input;
    if (input.kind !== 'dense') throw new Error('not a dense layer');
    const c = gatherDenseCentres(this.layer.bank as Uint8Array | Float32Array, input.d, this.centreRows(v), this.features[i]!, this.kernel);
    if (reserve(this.budget, denseCentresBytes(c))) this.dense[i] = c;
    return c;
  }

  private groupIndex(group: SparseGroup): SparseGroupIndex {
    if (group.index) return group.index;
    const layer = this.layer;
    const input = layer.input;
    if (input.kind !== 'code') throw new Error('not a sparse layer');
    const { k } = layer;
    const Vp = input.V;
    const bank = layer.bank as Uint16Array;
    const clusterings = [];
    for (let v = group.v0; v < group.v1; v++) {
      const rows = this.centreRows(v);
      const centreCodes = new Uint16Array(k * Vp);
      for (let j = 0; j < k; j++) {
        const r = rows[j]! * Vp;
        centreCodes.set(bank.subarray(r, r + Vp), j * Vp);
      }
      clusterings.push({ keptFeatures: keptFeatures(layer, v), centreCodes });
    }
    const index = buildSparseGroupIndex(Vp, input.k, clusterings, k);
    if (reserve(this.budget, index.offsets.byteLength + index.slots.byteLength)) group.index = index;
    return index;
  }

  /** Encodes every point of `points`: returns the n × width block of winning centre ids, row-major. */
  async encode(points: LayerPoints, backend: DenseBackend): Promise<Uint16Array> {
    const layer = this.layer;
    const input = layer.input;
    const n = points.n;
    const out = new Uint16Array(n * this.width);
    if (n === 0) return out;
    if (input.kind === 'dense') {
      if (points.kind !== 'dense' || points.cols !== input.d) throw new RangeError(`layer ${layer.layer} encodes ${input.d}-column points`);
      let xs: Float32Array | undefined;
      for (let v = this.v0; v < this.v1; v++) {
        const features = this.features[v - this.v0]!;
        xs ??= new Float32Array(n * features.length);
        gatherDense(points.data, points.cols, null, n, features, xs);
        await nearestCentresDensePrepared(backend, xs, n, this.denseCentres(v), out, this.width, v - this.v0);
      }
    } else {
      if (points.kind !== 'code' || points.V !== input.V || points.k !== input.k) {
        throw new RangeError(`layer ${layer.layer} encodes codes of ${input.V} clusterings × ${input.k} centres`);
      }
      for (const group of this.groups) assignSparseGroup(this.groupIndex(group), points.ids, n, out, this.width, group.v0 - this.v0);
    }
    return out;
  }
}
