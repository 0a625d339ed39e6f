/**
 * Seeded randomness for the student: weight init and batch order come from here, never from
 * Math.random or tfjs's global RNG, so (data, spec, backend) fixes the trained weights.
 */

/** splitmix32 finaliser: spreads a small seed over 32 bits. */
function mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** xoshiro128** over 32-bit lanes; next() is uniform in [0, 1). */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number, stream = 0) {
    const base = mix32(seed ^ Math.imul(stream + 1, 0x27d4eb2f));
    this.s0 = mix32(base);
    this.s1 = mix32(this.s0 ^ 0x1b873593);
    this.s2 = mix32(this.s1 ^ 0xcc9e2d51);
    this.s3 = mix32(this.s2 ^ 0xe6546b64) | 1;
  }

  nextU32(): number {
    const r = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return r;
  }

  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Fisher–Yates permutation of 0..n-1 into `out` (allocated if absent). */
export function permutation(rng: Rng, n: number, out = new Int32Array(n)): Int32Array {
  for (let i = 0; i < n; i++) out[i] = i;
  shuffleInPlace(rng, out);
  return out;
}

export function shuffleInPlace(rng: Rng, a: Int32Array): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
}

/** Glorot (Xavier) uniform, row-major inDim×outDim: limit √(6/(in+out)) keeps activation variance flat. */
export function glorotUniform(rng: Rng, inDim: number, outDim: number): Float32Array {
  const limit = Math.sqrt(6 / (inDim + outDim));
  const w = new Float32Array(inDim * outDim);
  for (let i = 0; i < w.length; i++) w[i] = (2 * rng.next() - 1) * limit;
  return w;
}
