/**
 * A change to the native sparse kernel (packages/kernels/native) beside the same kernel at another
 * revision, in one process run, on real MNIST codes: trains the layers with the current build
 * (the in-process thread pool), and on each upper layer runs one shard of --width clusterings
 * (index build and assignment, what computeShard does for them) with the addon built from
 * --baseline REV and with the current one, alternating for --rounds rounds on one thread, checks
 * that their ids and increment counts are identical, and prints the median seconds of each and
 * their ratio (baseline / current). Defaults: 20,000 digits, V=400, MNIST-70k's k schedule.
 *
 *   npm run bench:sparse-native -- --baseline REV [--n 20000] [--width 25] [--rounds 3] [--json]
 */
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { assignSparseGroupWith, buildSparseGroupIndexWith, loadBlasAddon, sparseGroupSize, type BlasAddon } from '@cmbn/kernels';
import { loadDataset } from '@cmbn/data';
import { addonAt } from '../../kernels/bench/addon-at.ts';
import { assembleLayer, denseInput, drawClustering, featureCount, gatherCodeRows, layerShardSpecs, parseParams, ShardThreadPool } from '../src/index.ts';
import type { CodeInput, LayerInput } from '../src/index.ts';

const { values } = parseArgs({
  options: {
    baseline: { type: 'string' },
    n: { type: 'string', default: '20000' },
    V: { type: 'string', default: '400' },
    k: { type: 'string', default: '1428,714,357,178,89,44,22' },
    width: { type: 'string', default: '25' },
    rounds: { type: 'string', default: '3' },
    seed: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});
if (!values.baseline) {
  process.stderr.write('bench:sparse-native needs --baseline REV (the revision whose addon is the baseline)\n');
  process.exit(2);
}
const ks = values.k.split(',').map(Number);
const params = parseParams({ V: Number(values.V), k: ks, seed: Number(values.seed) });
const width = Math.min(params.V, Number(values.width));
const rounds = Number(values.rounds);
const log = (s: string) => process.stderr.write(`${s}\n`);

const base = addonAt(values.baseline);
const current = loadBlasAddon();
const ds = await loadDataset('mnist', { limit: Number(values.n) });
const n = ds.x.rows;

/** One shard of clusterings 0..width-1 of `layer` on `addon`: its ids, increments and seconds. */
function shardOn(addon: BlasAddon, input: CodeInput, layer: number, k: number) {
  const t0 = performance.now();
  const out = new Uint16Array(n * width);
  const G = sparseGroupSize(k, width);
  let increments = 0;
  // Where a shard's time goes: the clusterings' draws and centre rows (JS, the same on both sides),
  // the merged index's build and the assignment (the addon's).
  const phase = { draw: 0, build: 0, assign: 0 };
  for (let g0 = 0; g0 < width; g0 += G) {
    const group = [];
    let t = performance.now();
    for (let v = g0; v < Math.min(width, g0 + G); v++) {
      const { features, centres } = drawClustering(params.seed, layer, v, featureCount(input), n, params.a, k);
      group.push({ keptFeatures: features, centreCodes: gatherCodeRows(input.ids, input.V, centres, new Uint16Array(k * input.V)) });
    }
    phase.draw += performance.now() - t;
    t = performance.now();
    const index = buildSparseGroupIndexWith(addon, input.V, input.k, group, k);
    phase.build += performance.now() - t;
    t = performance.now();
    increments += assignSparseGroupWith(addon, index, input.ids, n, out, width, g0);
    phase.assign += performance.now() - t;
  }
  const ms = (x: number) => x / 1000;
  return { out, increments, seconds: ms(performance.now() - t0), phases: { draw: ms(phase.draw), build: ms(phase.build), assign: ms(phase.assign) } };
}
type Phases = ReturnType<typeof shardOn>['phases'];
/** The median of each phase over rounds. */
const phaseMedians = (ps: Phases[]): Phases => ({ draw: median(ps.map((p) => p.draw)), build: median(ps.map((p) => p.build)), assign: median(ps.map((p) => p.assign)) });
const fmtPhases = (p: Phases) => `draw ${p.draw.toFixed(3)}, build ${p.build.toFixed(3)}, assign ${p.assign.toFixed(3)}`;

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const rows: {
  layer: number;
  k: number;
  baselineSeconds: number;
  currentSeconds: number;
  ratio: number;
  baselinePhases: Phases;
  currentPhases: Phases;
  incrementsPerPointClustering: number;
  identical: boolean;
}[] = [];
const pool = new ShardThreadPool(2);
try {
  let input: LayerInput = denseInput(ds.x);
  for (let l = 0; l < ks.length; l++) {
    const k = ks[l]!;
    if (input.kind === 'code') {
      const b: number[] = [];
      const c: number[] = [];
      const bp: Phases[] = [];
      const cp: Phases[] = [];
      let identical = true;
      let increments = 0;
      for (let r = 0; r < rounds; r++) {
        // Alternate which goes first, so neither always runs on a warmer cache or a quieter machine.
        const order = r % 2 === 0 ? [base.addon, current] : [current, base.addon];
        const [first, second] = order.map((addon) => shardOn(addon, input as CodeInput, l + 1, k));
        const [bs, cs] = order[0] === base.addon ? [first!, second!] : [second!, first!];
        b.push(bs.seconds);
        c.push(cs.seconds);
        bp.push(bs.phases);
        cp.push(cs.phases);
        identical &&= bs.increments === cs.increments && bs.out.every((x, i) => x === cs.out[i]);
        increments = cs.increments;
      }
      const row = {
        layer: l + 1,
        k,
        baselineSeconds: median(b),
        currentSeconds: median(c),
        ratio: median(b) / median(c),
        baselinePhases: phaseMedians(bp),
        currentPhases: phaseMedians(cp),
        incrementsPerPointClustering: increments / n / width,
        identical,
      };
      rows.push(row);
      log(
        `layer ${l + 1} k=${k} G=${sparseGroupSize(k, width)}: ${width} clusterings on 1 thread, baseline ${row.baselineSeconds.toFixed(3)} s, current ${row.currentSeconds.toFixed(3)} s = ` +
          `${row.ratio.toFixed(2)}× (rounds ${b.map((x, i) => (x / c[i]!).toFixed(2)).join(', ')}; baseline ${fmtPhases(row.baselinePhases)}; current ${fmtPhases(row.currentPhases)}); ` +
          `${row.incrementsPerPointClustering.toFixed(1)} increments/point/clustering; identical ${identical}`,
      );
    }
    const specs = layerShardSpecs(params, l + 1, k, Math.max(1, Math.floor(params.V / 16)));
    pool.setInput(input);
    const blocks = await Promise.all(specs.map((s) => pool.run(s)));
    input = assembleLayer(n, params.V, k, specs, blocks);
    if (l === 0) log(`layer 1 (dense) computed: codes of ${n} digits`);
  }
} finally {
  await pool.close();
}
if (values.json) process.stdout.write(`${JSON.stringify({ n, V: params.V, ks, width, baseline: base.commit, rows })}\n`);
if (rows.some((r) => !r.identical)) process.exitCode = 1;
