import { streamFor, type Rng } from './rng.ts';

/**
 * k-means (Lloyd) with greedy k-means++ seeding, in float64, fully deterministic.
 *
 * Restart r draws from streamFor(seed, 0x4B4D, r); the restart with the lowest inertia wins
 * (ties → the earliest). The returned labels are recomputed from the final centroids with
 * `assignNearest`, so predicting the training points reproduces the training labels.
 */
export interface KMeansResult {
  /** c×dim row-major */
  centroids: Float64Array;
  labels: Int32Array;
  /** Σ squared distances of points to their assigned centroid */
  inertia: number;
  /** Lloyd iterations of the winning restart */
  iterations: number;
}

export interface KMeansOptions {
  seed: number;
  /** independent k-means++ starts (default 10) */
  restarts?: number;
  /** Lloyd iterations per start (default 300) */
  maxIter?: number;
  /** stop when Σ squared centroid shift ≤ tol · mean per-dimension variance (sklearn's rule; default 1e-4) */
  tol?: number;
}

export function kmeans(x: Float64Array, n: number, dim: number, c: number, opts: KMeansOptions): KMeansResult {
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(dim) || dim < 1) {
    throw new Error(`kmeans: need n ≥ 1 and dim ≥ 1 (got n=${n}, dim=${dim})`);
  }
  if (x.length !== n * dim) throw new Error(`kmeans: x has ${x.length} entries, expected n·dim = ${n * dim}`);
  if (!Number.isInteger(c) || c < 1 || c > n) throw new Error(`kmeans: need 1 ≤ c ≤ n (got c=${c}, n=${n})`);
  const restarts = opts.restarts ?? 10;
  const maxIter = opts.maxIter ?? 300;
  if (!Number.isInteger(restarts) || restarts < 1) throw new Error(`kmeans: restarts must be ≥ 1 (got ${restarts})`);
  if (!Number.isInteger(maxIter) || maxIter < 0) throw new Error(`kmeans: maxIter must be ≥ 0 (got ${maxIter})`);
  const tolAbs = (opts.tol ?? 1e-4) * meanVariance(x, n, dim);

  let best: KMeansResult | undefined;
  for (let r = 0; r < restarts; r++) {
    const rng = streamFor(opts.seed, 0x4b4d, r);
    const centroids = kmeansPlusPlus(x, n, dim, c, rng);
    const run = lloyd(x, n, dim, c, centroids, maxIter, tolAbs);
    if (best === undefined || run.inertia < best.inertia) best = run;
  }
  return best!;
}

/**
 * Nearest centroid by squared Euclidean distance, accumulated over dimensions in order;
 * ties go to the lowest centroid index.
 */
export function assignNearest(
  x: Float64Array,
  n: number,
  dim: number,
  centroids: Float64Array,
  c: number,
  out?: Int32Array,
): Int32Array {
  const labels = out ?? new Int32Array(n);
  if (labels.length < n) throw new Error(`assignNearest: out has ${labels.length} entries, need ${n}`);
  if (centroids.length < c * dim) throw new Error(`assignNearest: centroids has ${centroids.length} entries, need ${c * dim}`);
  if (dim <= MAX_UNROLLED_DIM) {
    kernelsFor(dim).assign(x, n, centroids, c, labels);
    return labels;
  }
  for (let i = 0; i < n; i++) {
    const xo = i * dim;
    let bestJ = 0;
    let bestD = Infinity;
    for (let j = 0; j < c; j++) {
      const d = sqDist(x, xo, centroids, j * dim, dim);
      if (d < bestD) {
        bestD = d;
        bestJ = j;
      }
    }
    labels[i] = bestJ;
  }
  return labels;
}

/**
 * The two n-point distance loops, generated per dimension (≤ MAX_UNROLLED_DIM) so a point's
 * coordinates sit in locals: each squared distance is still s = 0, then s += (a_t − b_t)² for t
 * ascending, exactly sqDist's operations in its order, so the results are the same bits.
 */
interface DistanceKernels {
  /** labels[i] = nearest centroid of point i (ties → lowest index), as assignNearest. */
  assign(x: Float64Array, n: number, centroids: Float64Array, c: number, labels: Int32Array): void;
  /** cand[i] = min(‖x_i − x_at‖², closest[i]) for the point starting at x[at]; returns Σ cand in i order. */
  trial(x: Float64Array, n: number, at: number, closest: Float64Array, cand: Float64Array): number;
}

const MAX_UNROLLED_DIM = 16;
const distanceKernels: DistanceKernels[] = [];

function kernelsFor(dim: number): DistanceKernels {
  const cached = distanceKernels[dim];
  if (cached) return cached;
  const ts = Array.from({ length: dim }, (_, t) => t);
  const load = (name: string, arr: string, off: string) => ts.map((t) => `const ${name}${t} = ${arr}[${off} + ${t}];`).join(' ');
  const dist = (a: string, arr: string, off: string) => `let s = 0; let d; ${ts.map((t) => `d = ${a}${t} - ${arr}[${off} + ${t}]; s += d * d;`).join(' ')}`;
  const assign = new Function(
    'x',
    'n',
    'centroids',
    'c',
    'labels',
    `for (let i = 0, xo = 0; i < n; i++, xo += ${dim}) {
  ${load('x', 'x', 'xo')}
  let bestJ = 0;
  let bestD = Infinity;
  for (let j = 0, co = 0; j < c; j++, co += ${dim}) {
    ${dist('x', 'centroids', 'co')}
    if (s < bestD) { bestD = s; bestJ = j; }
  }
  labels[i] = bestJ;
}`,
  ) as DistanceKernels['assign'];
  const trial = new Function(
    'x',
    'n',
    'at',
    'closest',
    'cand',
    `${load('q', 'x', 'at')}
let p = 0;
for (let i = 0, xo = 0; i < n; i++, xo += ${dim}) {
  let s = 0; let d; ${ts.map((t) => `d = x[xo + ${t}] - q${t}; s += d * d;`).join(' ')}
  const cl = closest[i];
  const m = s < cl ? s : cl;
  cand[i] = m;
  p += m;
}
return p;`,
  ) as DistanceKernels['trial'];
  return (distanceKernels[dim] = { assign, trial });
}

/** Squared Euclidean distance between a[ao…ao+dim) and b[bo…bo+dim). */
export function sqDist(a: Float64Array, ao: number, b: Float64Array, bo: number, dim: number): number {
  let s = 0;
  for (let t = 0; t < dim; t++) {
    const d = a[ao + t]! - b[bo + t]!;
    s += d * d;
  }
  return s;
}

function meanVariance(x: Float64Array, n: number, dim: number): number {
  let total = 0;
  for (let t = 0; t < dim; t++) {
    let mu = 0;
    for (let i = 0; i < n; i++) mu += x[i * dim + t]!;
    mu /= n;
    let v = 0;
    for (let i = 0; i < n; i++) {
      const d = x[i * dim + t]! - mu;
      v += d * d;
    }
    total += v / n;
  }
  return total / dim;
}

/**
 * Greedy k-means++ (Arthur & Vassilvitskii; scikit-learn's variant): the first centre is a
 * uniform point; each later centre is the best (lowest resulting potential, ties → first
 * trial) of 2 + ⌊ln c⌋ candidates drawn with probability ∝ D(x)². A candidate for u·φ
 * (u ∈ [0,1)) is the first point whose running sum of D² exceeds u·φ, so points already at
 * distance 0 are never drawn. If φ = 0 (fewer distinct points than c) the remaining
 * centres duplicate existing points; Lloyd's empty-cluster rule then handles them.
 */
function kmeansPlusPlus(x: Float64Array, n: number, dim: number, c: number, rng: Rng): Float64Array {
  const centroids = new Float64Array(c * dim);
  const trials = 2 + Math.floor(Math.log(c));
  const first = rng.nextInt(n);
  centroids.set(x.subarray(first * dim, first * dim + dim), 0);
  const closest = new Float64Array(n);
  for (let i = 0; i < n; i++) closest[i] = sqDist(x, i * dim, x, first * dim, dim);
  const cand = new Float64Array(n);
  const bestDist = new Float64Array(n);
  const cumsum = new Float64Array(n);
  for (let j = 1; j < c; j++) {
    let acc = 0;
    for (let i = 0; i < n; i++) {
      acc += closest[i]!;
      cumsum[i] = acc;
    }
    let bestIdx = -1;
    let bestPot = Infinity;
    for (let t = 0; t < trials; t++) {
      const target = rng.nextFloat() * acc;
      const idx = acc > 0 ? firstAbove(cumsum, target) : rng.nextInt(n);
      let p = 0;
      if (dim <= MAX_UNROLLED_DIM) {
        p = kernelsFor(dim).trial(x, n, idx * dim, closest, cand);
      } else {
        for (let i = 0; i < n; i++) {
          const d = sqDist(x, i * dim, x, idx * dim, dim);
          const m = d < closest[i]! ? d : closest[i]!;
          cand[i] = m;
          p += m;
        }
      }
      if (p < bestPot) {
        bestPot = p;
        bestIdx = idx;
        bestDist.set(cand);
      }
    }
    centroids.set(x.subarray(bestIdx * dim, bestIdx * dim + dim), j * dim);
    closest.set(bestDist);
  }
  return centroids;
}

/** first index i with cumsum[i] > target (cumsum non-decreasing, target < cumsum[n−1]) */
function firstAbove(cumsum: Float64Array, target: number): number {
  let lo = 0;
  let hi = cumsum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cumsum[mid]! > target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function lloyd(
  x: Float64Array,
  n: number,
  dim: number,
  c: number,
  centroids: Float64Array,
  maxIter: number,
  tolAbs: number,
): KMeansResult {
  const labels = new Int32Array(n);
  const prev = new Int32Array(n).fill(-1);
  const sums = new Float64Array(c * dim);
  const counts = new Float64Array(c);
  const taken = new Uint8Array(n);
  let iterations = 0;
  for (let it = 0; it < maxIter; it++) {
    iterations = it + 1;
    assignNearest(x, n, dim, centroids, c, labels);
    let changed = false;
    for (let i = 0; i < n; i++) {
      if (labels[i] !== prev[i]) {
        changed = true;
        break;
      }
    }
    if (!changed) break; // strict convergence: the centroids below would not move
    prev.set(labels);
    sums.fill(0);
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const l = labels[i]!;
      counts[l]! += 1;
      const so = l * dim;
      const xo = i * dim;
      for (let t = 0; t < dim; t++) sums[so + t]! += x[xo + t]!;
    }
    relocateEmpty(x, n, dim, c, centroids, labels, sums, counts, taken);
    let shift = 0;
    for (let j = 0; j < c; j++) {
      const inv = 1 / counts[j]!;
      for (let t = 0; t < dim; t++) {
        const nv = sums[j * dim + t]! * inv;
        const d = nv - centroids[j * dim + t]!;
        shift += d * d;
        centroids[j * dim + t] = nv;
      }
    }
    if (shift <= tolAbs) break;
  }
  // final assignment with the final centroids: labels ≡ assignNearest(x, …, centroids)
  assignNearest(x, n, dim, centroids, c, labels);
  let inertia = 0;
  for (let i = 0; i < n; i++) inertia += sqDist(x, i * dim, centroids, labels[i]! * dim, dim);
  return { centroids, labels, inertia, iterations };
}

/**
 * Each empty cluster (in index order) takes the point farthest from its current centroid
 * (ties → lowest point index; a point is used at most once), moving it out of its old
 * cluster's sums so the new means stay consistent.
 */
function relocateEmpty(
  x: Float64Array,
  n: number,
  dim: number,
  c: number,
  centroids: Float64Array,
  labels: Int32Array,
  sums: Float64Array,
  counts: Float64Array,
  taken: Uint8Array,
): void {
  let any = false;
  for (let j = 0; j < c; j++) if (counts[j] === 0) any = true;
  if (!any) return;
  taken.fill(0);
  for (let j = 0; j < c; j++) {
    if (counts[j] !== 0) continue;
    let far = -1;
    let farD = -1;
    for (let i = 0; i < n; i++) {
      if (taken[i] || counts[labels[i]!]! <= 1) continue; // never empty another cluster
      const d = sqDist(x, i * dim, centroids, labels[i]! * dim, dim);
      if (d > farD) {
        farD = d;
        far = i;
      }
    }
    if (far < 0) continue; // cannot happen when c ≤ n
    taken[far] = 1;
    const old = labels[far]!;
    counts[old]! -= 1;
    counts[j] = 1;
    labels[far] = j;
    for (let t = 0; t < dim; t++) {
      const v = x[far * dim + t]!;
      sums[old * dim + t]! -= v;
      sums[j * dim + t] = v;
    }
  }
}
