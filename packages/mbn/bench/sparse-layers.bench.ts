/**
 * The sparse upper layers on real MNIST codes, before and after the grouped kernel, in one
 * process run: trains every layer with the in-process thread pool (computeShard, the grouped
 * kernel), and on each upper layer also times, on one thread, its first --ref clusterings with
 * the one-clustering-at-a-time kernel (nearestCentresSparse, what computeShard did before) and
 * with computeShard, checks their ids are identical, and prints seconds per clustering and the
 * ratio. computeShard runs twice, with the JS sparse kernel (CMBN_SPARSE_KERNEL=js) and with the
 * C++ one of the addon (native; the JS one again when the addon is not built), ids checked equal,
 * ratio printed. The layer timings run the default (native when built). Defaults: 20,000 digits
 * (the per-layer behaviour of 70k at a third of the cost), V=400, the k schedule of MNIST-70k's
 * defaults.
 *
 *   npm run bench:sparse-layers -- [--n 20000] [--V 400] [--k 1428,714,...] [--ref 16] [--json]
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { createDenseBackend, nearestCentresSparse } from '@cmbn/kernels';
import { loadDataset } from '@cmbn/data';
import { assembleLayer, computeShard, denseInput, drawClustering, featureCount, gatherCodeRows, layerShardSpecs, parseParams, ShardThreadPool } from '../src/index.ts';
import type { CodeInput, LayerInput, ShardSpec } from '../src/index.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '20000' },
    V: { type: 'string', default: '400' },
    k: { type: 'string', default: '1428,714,357,178,89,44,22' },
    ref: { type: 'string', default: '16' },
    seed: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
const ks = values.k.split(',').map(Number);
const params = parseParams({ V: Number(values.V), k: ks, seed: Number(values.seed) });
const ref = Math.min(params.V, Number(values.ref));
const ds = await loadDataset('mnist', { limit: Number(values.n) });
const n = ds.x.rows;
const log = (s: string) => process.stderr.write(`${s}\n`);

/** What computeShard's sparse branch did before the grouped kernel: one clustering at a time. */
function oneAtATime(input: CodeInput, spec: ShardSpec, stats: { accumulations: number }): Uint16Array {
  const width = spec.v1 - spec.v0;
  const out = new Uint16Array(n * width);
  const centreCodes = new Uint16Array(spec.k * input.V);
  for (let v = spec.v0; v < spec.v1; v++) {
    const { features, centres } = drawClustering(spec.seed, spec.layer, v, featureCount(input), n, spec.a, spec.k);
    gatherCodeRows(input.ids, input.V, centres, centreCodes);
    nearestCentresSparse(input.ids, n, input.V, input.k, features, centreCodes, spec.k, out, width, v - spec.v0, stats);
  }
  return out;
}

const pool = new ShardThreadPool(2);
const backend = await createDenseBackend({ threads: 1 });
const rows: {
  layer: number;
  k: number;
  layerSeconds: number;
  incrementsPerPointClustering?: number;
  oldPerClustering?: number;
  newPerClustering?: number;
  nativePerClustering?: number;
  speedup?: number;
  nativeSpeedup?: number;
  identical?: boolean;
}[] = [];

/** computeShard with CMBN_SPARSE_KERNEL set to `kernel` for the call (read on each kernel call). */
async function shardWith(kernel: 'js' | 'native', input: CodeInput, spec: ShardSpec): Promise<{ out: Uint16Array; seconds: number }> {
  const saved = process.env['CMBN_SPARSE_KERNEL'];
  process.env['CMBN_SPARSE_KERNEL'] = kernel;
  try {
    const t0 = performance.now();
    const out = await computeShard(input, spec, backend);
    return { out, seconds: (performance.now() - t0) / 1000 };
  } finally {
    if (saved === undefined) delete process.env['CMBN_SPARSE_KERNEL'];
    else process.env['CMBN_SPARSE_KERNEL'] = saved;
  }
}
try {
  let input: LayerInput = denseInput(ds.x);
  for (let l = 0; l < ks.length; l++) {
    const k = ks[l]!;
    const specs = layerShardSpecs(params, l + 1, k, Math.max(1, Math.floor(params.V / 16)));
    const row: (typeof rows)[number] = { layer: l + 1, k, layerSeconds: 0 };
    if (input.kind === 'code') {
      const spec: ShardSpec = { ...specs[0]!, v0: 0, v1: ref };
      const t0 = performance.now();
      const stats = { accumulations: 0 };
      const a = oneAtATime(input, spec, stats);
      // The real integer work: score increments per (point, clustering).
      row.incrementsPerPointClustering = stats.accumulations / n / ref;
      row.oldPerClustering = (performance.now() - t0) / 1000 / ref;
      const js = await shardWith('js', input, spec);
      const nat = await shardWith('native', input, spec);
      row.newPerClustering = js.seconds / ref;
      row.nativePerClustering = nat.seconds / ref;
      row.speedup = row.oldPerClustering / row.newPerClustering;
      row.nativeSpeedup = js.seconds / nat.seconds;
      row.identical = a.length === js.out.length && a.every((x, i) => x === js.out[i] && x === nat.out[i]);
    }
    pool.setInput(input);
    const t0 = performance.now();
    const blocks = await Promise.all(specs.map((s) => pool.run(s)));
    row.layerSeconds = (performance.now() - t0) / 1000;
    input = assembleLayer(n, params.V, k, specs, blocks);
    rows.push(row);
    log(
      `layer ${l + 1} k=${k}: ${row.layerSeconds.toFixed(1)} s on 2 threads` +
        (row.speedup === undefined
          ? ''
          : `; ${row.incrementsPerPointClustering!.toFixed(0)} increments/point/clustering; 1 thread, ${ref} clusterings: one-at-a-time ${(row.oldPerClustering! * 1000).toFixed(0)} ms/clustering, ` +
            `grouped JS ${(row.newPerClustering! * 1000).toFixed(0)} ms → ${row.speedup.toFixed(2)}×, grouped native ${(row.nativePerClustering! * 1000).toFixed(1)} ms → ${row.nativeSpeedup!.toFixed(2)}× JS grouped, identical ${row.identical}`),
    );
  }
} finally {
  await pool.close();
  await backend.dispose();
}
if (values.json) process.stdout.write(`${JSON.stringify({ n, V: params.V, ks, ref, rows })}\n`);
if (rows.some((r) => r.identical === false)) process.exitCode = 1;
