/**
 * Sparse upper-layer kernel: G clusterings at once from one merged index (assignSparseGroup)
 * against one clustering at a time (nearestCentresSparse), same inputs, same process, at the
 * shapes of MNIST-70k's layers 2, 4 and 7 (Vp = 400, k/kp = 0.5, a = 0.5), n points, 25
 * clusterings (the in-process trainer's shard). Checks the answers are equal, prints seconds and
 * the ratio per shape; --json prints one JSON object.
 *
 *   npm run bench:sparse -- [--n 8192] [--json]
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { nearestCentresSparse } from '../src/nearest-centres-sparse.ts';
import { assignSparseGroup, buildSparseGroupIndex, sparseGroupSize } from '../src/nearest-centres-sparse-group.ts';
import { rng } from '../src/test-helpers.ts';

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

const rows: { kp: number; k: number; oneSeconds: number; groupSeconds: number; speedup: number; equal: boolean }[] = [];
for (const [kp, k] of [[1428, 714], [357, 178], [44, 22]] as const) {
  const codes = makeCodes(kp, kp);
  const r = rng(k);
  const cl = Array.from({ length: width }, () => {
    const centreCodes = new Uint16Array(k * Vp);
    for (let j = 0; j < k; j++) {
      const p = Math.floor(r() * n);
      centreCodes.set(codes.subarray(p * Vp, (p + 1) * Vp), j * Vp);
    }
    const kept: number[] = [];
    for (let f = 0; f < Vp * kp; f++) if (r() < 0.5) kept.push(f);
    return { keptFeatures: Uint32Array.from(kept), centreCodes };
  });
  const a = new Uint16Array(n * width);
  const b = new Uint16Array(n * width);
  let t0 = performance.now();
  cl.forEach((c, v) => nearestCentresSparse(codes, n, Vp, kp, c.keptFeatures, c.centreCodes, k, a, width, v));
  const oneSeconds = (performance.now() - t0) / 1000;
  t0 = performance.now();
  const G = sparseGroupSize(k, width);
  for (let g0 = 0; g0 < width; g0 += G) {
    const idx = buildSparseGroupIndex(Vp, kp, cl.slice(g0, g0 + G), k);
    assignSparseGroup(idx, codes, n, b, width, g0);
  }
  const groupSeconds = (performance.now() - t0) / 1000;
  const equal = a.every((x, i) => x === b[i]);
  rows.push({ kp, k, oneSeconds, groupSeconds, speedup: oneSeconds / groupSeconds, equal });
  process.stderr.write(`kp ${kp} k ${k} G ${G}: one-at-a-time ${oneSeconds.toFixed(2)} s, grouped ${groupSeconds.toFixed(2)} s, ${(oneSeconds / groupSeconds).toFixed(2)}x, equal ${equal}\n`);
}
if (values.json) process.stdout.write(`${JSON.stringify({ n, Vp, width, rows })}\n`);
if (!rows.every((x) => x.equal)) process.exitCode = 1;
