/**
 * drawClustering at the sparse layers of MNIST-70k's defaults (V·k features, half kept), before and after
 * the inlined shuffle and the flag sort, in one process run: the reference is the same draw through the
 * generic Rng interface (nextInt per step) and the comparison sort (sortedU32), which is what
 * drawClustering did before. Both must give identical features and centres; prints ms per clustering
 * per layer and the ratio.
 *
 *   npm run bench:draw -- [--V 400] [--k 1428,714,357,178,89,44,22] [--n 70000] [--reps 20] [--json]
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { drawClustering, keptCount, sampleDistinct, sortedU32, streamFor, type Rng } from '../src/index.ts';

const { values } = parseArgs({
  options: {
    V: { type: 'string', default: '400' },
    k: { type: 'string', default: '1428,714,357,178,89,44,22' },
    n: { type: 'string', default: '70000' },
    reps: { type: 'string', default: '20' },
    seed: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
const V = Number(values.V);
const ks = values.k.split(',').map(Number);
const n = Number(values.n);
const reps = Number(values.reps);
const seed = Number(values.seed);
const a = 0.5;

/** The draw as it was: every step through Rng.nextInt (a wrapper is not the inlined generator), then a comparison sort. */
function drawBefore(layer: number, v: number, nFeatures: number, k: number): { features: Uint32Array; centres: Uint32Array } {
  const r = streamFor(seed, layer, v);
  const rng: Rng = { nextU32: () => r.nextU32(), nextFloat: () => r.nextFloat(), nextInt: (m) => r.nextInt(m) };
  const features = sampleDistinct(rng, nFeatures, keptCount(nFeatures, a));
  const centres = sampleDistinct(rng, n, k);
  return { features: sortedU32(features), centres };
}

const same = (x: Uint32Array, y: Uint32Array): boolean => x.length === y.length && x.every((t, i) => t === y[i]);
const rows = [];
for (let l = 1; l < ks.length; l++) {
  const layer = l + 1;
  const nFeatures = V * ks[l - 1]!;
  const k = ks[l]!;
  let before = 0;
  let after = 0;
  // Alternate the two so that load drifts reach both alike.
  for (let v = 0; v < reps; v++) {
    let t = performance.now();
    const b = drawBefore(layer, v, nFeatures, k);
    before += performance.now() - t;
    t = performance.now();
    const d = drawClustering(seed, layer, v, nFeatures, n, a, k);
    after += performance.now() - t;
    if (!same(b.features, d.features) || !same(b.centres, d.centres)) throw new Error(`layer ${layer} clustering ${v}: the draws differ`);
  }
  const row = { layer, nFeatures, k, beforeMs: Number((before / reps).toFixed(2)), afterMs: Number((after / reps).toFixed(2)), ratio: Number((before / after).toFixed(2)) };
  rows.push(row);
  if (!values.json) console.log(`layer ${layer}: ${nFeatures} features, k=${k}: ${row.beforeMs} → ${row.afterMs} ms per clustering = ${row.ratio}× (identical draws)`);
}
if (values.json) console.log(JSON.stringify({ bench: 'draw', V, ks, n, reps, rows }));
