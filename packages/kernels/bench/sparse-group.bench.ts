/**
 * Sparse upper-layer kernel: G clusterings at once from one merged index, in JavaScript
 * (buildSparseGroupIndexJs + assignSparseGroupJs) and in C++ (the addon's sparseGroupBuild +
 * sparseGroupAssign), against one clustering at a time (nearestCentresSparse), same inputs, same
 * process, at the shapes of MNIST-70k's layers 2, 4 and 7 (Vp = 400, k/kp = 0.5, a = 0.5), n
 * points, 25 clusterings (the in-process trainer's shard). Checks the ids are equal, prints
 * seconds (index build and assignment apart) and the ratios per shape; --json prints one JSON
 * object. Needs the addon (npm run build:blas).
 *
 *   npm run bench:sparse -- [--n 8192] [--width 25] [--json]
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { nearestCentresSparse } from '../src/nearest-centres-sparse.ts';
import { loadBlasAddon } from '../src/blas-backend.ts';
import {
  assignSparseGroupJs,
  assignSparseGroupWith,
  buildSparseGroupIndexJs,
  buildSparseGroupIndexWith,
  sparseGroupSize,
  type SparseGroupIndex,
} from '../src/nearest-centres-sparse-group.ts';
import { drawSparseClustering, rng } from '../src/test-helpers.ts';

const { values } = parseArgs({ options: { n: { type: 'string', default: '8192' }, json: { type: 'boolean', default: false }, width: { type: 'string', default: '25' } } });
const n = Number(values.n);
const width = Number(values.width);
const Vp = 400;

/** Codes with cluster structure (points near one of 10 prototypes), like real MBN codes. */
function makeCodes(kp: number, seed: number): Uint16Array {
  const r = rng(seed);
  const protos = Array.from({ length: 10 }, () => Uint16Array.from({ length: Vp }, () => Math.floor(r() * kp)));
  const codes = new Uint16Array(n * Vp);
  for (let i = 0; i < n; i++) {
    const p = protos[Math.floor(r() * 10)]!;
    for (let u = 0; u < Vp; u++) codes[i * Vp + u] = r() < 0.3 ? p[u]! : Math.floor(r() * kp);
  }
  return codes;
}

const addon = loadBlasAddon();
type Row = {
  kp: number;
  k: number;
  oneSeconds: number;
  jsBuildSeconds: number;
  jsAssignSeconds: number;
  nativeBuildSeconds: number;
  nativeAssignSeconds: number;
  /** grouped JS (build + assignment) over grouped native */
  nativeSpeedup: number;
  incrementsPerPointClustering: number;
  equal: boolean;
};
const rows: Row[] = [];
const seconds = (t0: number) => (performance.now() - t0) / 1000;
for (const [kp, k] of [[1428, 714], [357, 178], [44, 22]] as const) {
  const codes = makeCodes(kp, kp);
  const r = rng(k);
  const cl = Array.from({ length: width }, () => drawSparseClustering(r, codes, n, Vp, kp, k, 0.5));
  const one = new Uint16Array(n * width);
  const t0 = performance.now();
  cl.forEach((c, v) => nearestCentresSparse(codes, n, Vp, kp, c.keptFeatures, c.centreCodes, k, one, width, v));
  const oneSeconds = seconds(t0);
  const G = sparseGroupSize(k, width);
  const grouped = (build: (g0: number) => SparseGroupIndex, assign: (idx: SparseGroupIndex, out: Uint16Array, g0: number) => number) => {
    const out = new Uint16Array(n * width);
    let buildSeconds = 0;
    let assignSeconds = 0;
    let increments = 0;
    for (let g0 = 0; g0 < width; g0 += G) {
      let t = performance.now();
      const idx = build(g0);
      buildSeconds += seconds(t);
      t = performance.now();
      increments += assign(idx, out, g0);
      assignSeconds += seconds(t);
    }
    return { out, buildSeconds, assignSeconds, increments };
  };
  const js = grouped(
    (g0) => buildSparseGroupIndexJs(Vp, kp, cl.slice(g0, g0 + G), k),
    (idx, out, g0) => assignSparseGroupJs(idx, codes, n, out, width, g0),
  );
  const nat = grouped(
    (g0) => buildSparseGroupIndexWith(addon, Vp, kp, cl.slice(g0, g0 + G), k),
    (idx, out, g0) => assignSparseGroupWith(addon, idx, codes, n, out, width, g0),
  );
  const equal = one.every((x, i) => x === js.out[i] && x === nat.out[i]) && js.increments === nat.increments;
  const jsSeconds = js.buildSeconds + js.assignSeconds;
  const nativeSeconds = nat.buildSeconds + nat.assignSeconds;
  rows.push({
    kp,
    k,
    oneSeconds,
    jsBuildSeconds: js.buildSeconds,
    jsAssignSeconds: js.assignSeconds,
    nativeBuildSeconds: nat.buildSeconds,
    nativeAssignSeconds: nat.assignSeconds,
    nativeSpeedup: jsSeconds / nativeSeconds,
    incrementsPerPointClustering: js.increments / n / width,
    equal,
  });
  process.stderr.write(
    `kp ${kp} k ${k} G ${G}: one-at-a-time ${oneSeconds.toFixed(2)} s; grouped JS ${jsSeconds.toFixed(2)} s (build ${js.buildSeconds.toFixed(2)}, assign ${js.assignSeconds.toFixed(2)}), ` +
      `native ${nativeSeconds.toFixed(3)} s (build ${nat.buildSeconds.toFixed(3)}, assign ${nat.assignSeconds.toFixed(3)}); native ${(jsSeconds / nativeSeconds).toFixed(2)}× JS grouped ` +
      `(assign ${(js.assignSeconds / nat.assignSeconds).toFixed(2)}×, build ${(js.buildSeconds / nat.buildSeconds).toFixed(2)}×), ${(oneSeconds / nativeSeconds).toFixed(1)}× one-at-a-time; equal ${equal}\n`,
  );
}
if (values.json) process.stdout.write(`${JSON.stringify({ n, Vp, width, rows })}\n`);
if (!rows.every((x) => x.equal)) process.exitCode = 1;
