/**
 * Deterministic random streams (see docs/ARCHITECTURE.md, "Determinism").
 *
 * `streamFor(seed, ...path)` hashes (seed, ...path) with splitmix64 (BigInt, only at
 * creation) into the 128-bit state of a xoshiro128** generator, whose hot path is pure
 * 32-bit integer arithmetic (Math.imul, shifts). Every (seed, path) names an independent
 * stream, so draws never depend on scheduling, sharding or thread count.
 */
export interface Rng {
  /** uniform 32-bit unsigned integer */
  nextU32(): number;
  /** uniform in [0, 1) with 53 random bits (consumes two nextU32 draws) */
  nextFloat(): number;
  /** uniform integer in [0, n), unbiased (rejection), 1 ≤ n ≤ 2^32; consumes ≥ 1 nextU32 draws */
  nextInt(n: number): number;
}

const M64 = (1n << 64n) - 1n;
const GAMMA = 0x9e3779b97f4a7c15n;

/** splitmix64 output function (Steele, Lea & Flood 2014) */
export function mix64(z: bigint): bigint {
  z &= M64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
  return z ^ (z >> 31n);
}

function toU64(x: number, what: string): bigint {
  if (!Number.isSafeInteger(x)) throw new Error(`streamFor: ${what} must be a safe integer (got ${x})`);
  return BigInt.asUintN(64, BigInt(x));
}

/** xoshiro128** 1.1 (Blackman & Vigna) */
class Xoshiro128ss implements Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(s0: number, s1: number, s2: number, s3: number) {
    this.s0 = s0 | 0;
    this.s1 = s1 | 0;
    this.s2 = s2 | 0;
    this.s3 = s3 | 0;
  }

  nextU32(): number {
    const s1 = this.s1;
    const r = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return r >>> 0;
  }

  nextFloat(): number {
    // high 27 bits of the first draw, high 26 of the second: 53 bits, exactly representable
    const a = this.nextU32() >>> 5;
    const b = this.nextU32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  nextInt(n: number): number {
    if (!(Number.isInteger(n) && n >= 1 && n <= 4294967296)) {
      throw new Error(`nextInt: n must be an integer in [1, 2^32] (got ${n})`);
    }
    // accept x below the largest multiple of n that fits in 2^32; then x mod n is uniform
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /**
   * Steps i = 0..m−1 of the partial Fisher–Yates shuffle of sampleDistinctDense with the generator
   * inlined: the same draws as nextInt(n − i) (rejection, then modulo) in the same order, the state
   * written back at the end, so the stream continues exactly as if nextInt had been called m times.
   * The hot loop of drawClustering at the sparse layers (~285k draws per clustering at MNIST-70k).
   */
  shuffleInto(perm: Uint32Array, out: Uint32Array, n: number, m: number): void {
    let s0 = this.s0;
    let s1 = this.s1;
    let s2 = this.s2;
    let s3 = this.s3;
    let i = 0;
    while (i < m) {
      const range = n - i;
      const x = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = rotl(s3, 11);
      // nextInt's rejection bound 2³² − (2³² mod range) lies above 2³² − range, so it is computed (a
      // float modulo, a C call in V8) only for x beyond that: the same accept/reject as nextInt.
      if (x > 4294967296 - range && x >= 4294967296 - (4294967296 % range)) continue;
      // x mod range as x − ⌊x/range⌋·range: exact in doubles for x, range < 2³² (model.ts's keptBitsFromStream too).
      const j = i + (x - Math.floor(x / range) * range);
      const pj = perm[j]!;
      perm[j] = perm[i]!;
      perm[i] = pj;
      out[i] = pj;
      i++;
    }
    this.s0 = s0;
    this.s1 = s1;
    this.s2 = s2;
    this.s3 = s3;
  }

  stateWords(): Int32Array {
    return Int32Array.of(this.s0, this.s1, this.s2, this.s3);
  }
}

/** a raw xoshiro128** generator from its four 32-bit state words (for tests and reference vectors) */
export function xoshiro128ss(s0: number, s1: number, s2: number, s3: number): Rng {
  return new Xoshiro128ss(s0, s1, s2, s3);
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * The stream named by (seed, ...path). Each component must be a safe integer; negative
 * values are taken modulo 2^64. The path length is part of the hash, so (s) and (s, 0)
 * are different streams.
 */
export function streamFor(seed: number, ...path: number[]): Rng {
  let h = mix64(toU64(seed, 'seed') + GAMMA);
  for (let i = 0; i < path.length; i++) {
    h = mix64((h ^ mix64(toU64(path[i]!, `path[${i}]`) + 2n * GAMMA)) + GAMMA);
  }
  h = mix64(h + BigInt(path.length));
  // expand to 128 bits with the splitmix64 sequence started at h
  const a = mix64(h + GAMMA);
  const b = mix64(h + 2n * GAMMA);
  let s0 = Number(a & 0xffffffffn);
  const s1 = Number(a >> 32n);
  const s2 = Number(b & 0xffffffffn);
  const s3 = Number(b >> 32n);
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1; // xoshiro's all-zero state is a fixed point
  return new Xoshiro128ss(s0, s1, s2, s3);
}

/**
 * The xoshiro128** state words of streamFor(seed, ...path), for a hot loop that inlines the
 * generator instead of calling nextU32 (model.ts redraws ~225M draws at load at MNIST-70k).
 */
export function streamState(seed: number, ...path: number[]): Int32Array {
  return (streamFor(seed, ...path) as Xoshiro128ss).stateWords();
}

/**
 * m distinct values of 0..n−1 in draw order: a partial Fisher–Yates shuffle of the
 * identity permutation. Step i draws j = i + nextInt(n − i), swaps positions i and j and
 * emits position i. The permutation is held densely (Uint32Array of n) when m is a
 * sizeable fraction of n and sparsely (a Map of displaced positions, O(m) memory and time)
 * otherwise; both hold the same permutation so the output is identical.
 */
export function sampleDistinct(rng: Rng, n: number, m: number): Uint32Array {
  checkSample(n, m);
  return m * 8 < n ? sampleDistinctSparse(rng, n, m) : sampleDistinctDense(rng, n, m);
}

function checkSample(n: number, m: number): void {
  if (!(Number.isInteger(n) && n >= 0 && n <= 4294967296)) throw new Error(`sampleDistinct: bad n ${n}`);
  if (!(Number.isInteger(m) && m >= 0 && m <= n)) {
    throw new Error(`sampleDistinct: need 0 ≤ m ≤ n, got m=${m}, n=${n}`);
  }
}

/** dense representation; exported for tests */
export function sampleDistinctDense(rng: Rng, n: number, m: number): Uint32Array {
  checkSample(n, m);
  const perm = new Uint32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  const out = new Uint32Array(m);
  if (rng instanceof Xoshiro128ss) {
    rng.shuffleInto(perm, out, n, m);
    return out;
  }
  for (let i = 0; i < m; i++) {
    const j = i + rng.nextInt(n - i);
    const pj = perm[j]!;
    perm[j] = perm[i]!;
    perm[i] = pj;
    out[i] = pj;
  }
  return out;
}

/** sparse representation (positions absent from the map hold their own index); exported for tests */
export function sampleDistinctSparse(rng: Rng, n: number, m: number): Uint32Array {
  checkSample(n, m);
  const moved = new Map<number, number>();
  const out = new Uint32Array(m);
  for (let i = 0; i < m; i++) {
    const j = i + rng.nextInt(n - i);
    const pj = moved.get(j) ?? j;
    const pi = moved.get(i) ?? i;
    moved.set(j, pi);
    // position i is never read again (later steps draw j ≥ i+1)
    moved.delete(i);
    out[i] = pj;
  }
  return out;
}

/** a sorted (ascending) copy */
export function sortedU32(a: Uint32Array): Uint32Array {
  return Uint32Array.from(a).sort();
}

/**
 * sortedU32 of distinct values that are all below n, in O(n) when they are a sizeable share of 0..n−1
 * (a flag per value, then one scan, instead of a comparison sort: drawClustering keeps half of 0..n−1;
 * bench:draw times the whole draw). Throws if the values were not distinct and below n.
 */
export function sortedDistinctBelow(a: Uint32Array, n: number): Uint32Array {
  if (a.length * 16 < n) return sortedU32(a);
  const flags = new Uint8Array(n);
  for (let i = 0; i < a.length; i++) flags[a[i]!] = 1;
  const out = new Uint32Array(a.length);
  let o = 0;
  for (let v = 0; v < n && o < a.length; v++) if (flags[v] === 1) out[o++] = v;
  if (o !== a.length) throw new RangeError(`sortedDistinctBelow: ${a.length} values are not distinct values below ${n}`);
  return out;
}
