/**
 * Quality bar of issue 2: MBN on the first 10,000 MNIST digits, V=100, other params at their
 * defaults, seeds 1, 2, 3. Prints each seed and the means; `--json` prints one JSON object.
 * `--output-step` picks the output step (default: the params default).
 *
 * `--sweep-v 10,20,40,60,100` (issue 10's small-V guard): instead trains each V of the list on
 * --limit points (use 3000) for every seed and prints the mean ACC/NMI per V with the number of
 * layers and V per layer, the measurement behind the small-V warning's threshold.
 *
 * `--dataset FILE --labels FILE` runs the same on any labelled data (`npm run bench:datasets` writes some).
 *
 *   npm run bench:quality -- [--limit 10000] [--V 100] [--seeds 1,2,3] [--dataset mnist | FILE --labels FILE] [--output-step S] [--sweep-v LIST] [--json]
 */
import { parseArgs } from 'node:util';
import { loadDataset } from '@cmbn/data';
import { clusteringMetrics } from '@cmbn/metrics';
import { fitOutputStep, kmeans, OUTPUT_STEPS, projectCodes, trainMbn, type TOutputStep } from '@cmbn/mbn';

const { values } = parseArgs({
  options: {
    limit: { type: 'string', default: '10000' },
    V: { type: 'string', default: '100' },
    seeds: { type: 'string', default: '1,2,3' },
    dataset: { type: 'string', default: 'mnist' },
    labels: { type: 'string' },
    'output-step': { type: 'string' },
    'sweep-v': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});

const ds = await loadDataset(values.dataset, { limit: Number(values.limit), ...(values.labels ? { labels: values.labels } : {}) });
if (!ds.labels) throw new Error(`${values.dataset} has no labels: pass --labels FILE`);
const truth = ds.labels;
const seeds = values.seeds.split(',').map(Number);
const outputStep = values['output-step'] as TOutputStep | undefined;
type Run = {
  V: number;
  seed: number;
  acc: number;
  nmi: number;
  ari: number;
  layers: number;
  mbnSeconds: number;
  modelHash: string;
  modelBytes: number;
  /** every output step applied to this run's top code (they differ only in that step) */
  variants: { step: TOutputStep; acc: number; nmi: number }[];
};

async function trainSeeds(V: number): Promise<Run[]> {
  const runs: Run[] = [];
  for (const seed of seeds) {
    const r = await trainMbn(ds.x, { V, seed, ...(outputStep ? { outputStep } : {}) });
    const m = clusteringMetrics(truth, r.labels);
    const variants = OUTPUT_STEPS.map((step) => {
      const pca = fitOutputStep(r.topCode, step, r.params.clusters, seed);
      const km = kmeans(projectCodes(r.topCode, pca), r.topCode.n, pca.c, r.params.clusters, { seed, restarts: r.params.kmeansRestarts });
      const vm = clusteringMetrics(truth, km.labels);
      return { step, acc: vm.acc, nmi: vm.nmi };
    });
    runs.push({ V, seed, ...m, layers: r.ks.length, mbnSeconds: r.mbnSeconds, modelHash: r.modelHash, modelBytes: r.modelBytes.length, variants });
    process.stderr.write(`  output steps on this top code: ${variants.map((v) => `${v.step} acc ${v.acc.toFixed(4)} nmi ${v.nmi.toFixed(4)}`).join('; ')}\n`);
    process.stderr.write(
      `V ${V} seed ${seed}: acc ${m.acc.toFixed(4)} nmi ${m.nmi.toFixed(4)} ari ${m.ari.toFixed(4)} in ${r.mbnSeconds.toFixed(1)}s, ks ${r.ks.join(',')}, model ${(r.modelBytes.length / 1e6).toFixed(1)} MB\n`,
    );
  }
  return runs;
}
const mean = (runs: Run[], k: 'acc' | 'nmi' | 'ari') => runs.reduce((s, r) => s + r[k], 0) / runs.length;

if (values['sweep-v']) {
  const rows = [];
  for (const V of values['sweep-v'].split(',').map(Number)) {
    const runs = await trainSeeds(V);
    const layers = runs[0]!.layers;
    rows.push({ V, layers, vPerLayer: V / layers, meanAcc: mean(runs, 'acc'), meanNmi: mean(runs, 'nmi'), runs });
    process.stderr.write(`V ${V} (${layers} layers, V/layers ${(V / layers).toFixed(1)}): mean acc ${mean(runs, 'acc').toFixed(4)} nmi ${mean(runs, 'nmi').toFixed(4)}\n`);
  }
  if (values.json) process.stdout.write(`${JSON.stringify({ dataset: values.dataset, points: ds.x.rows, sweep: rows })}\n`);
} else {
  const runs = await trainSeeds(Number(values.V));
  const variantMeans = OUTPUT_STEPS.map((step) => {
    const vs = runs.map((r) => r.variants.find((v) => v.step === step)!);
    return { step, acc: vs.reduce((s, v) => s + v.acc, 0) / vs.length, nmi: vs.reduce((s, v) => s + v.nmi, 0) / vs.length };
  });
  const summary = { dataset: values.dataset, points: ds.x.rows, V: Number(values.V), outputStep: outputStep ?? 'default', runs, meanAcc: mean(runs, 'acc'), meanNmi: mean(runs, 'nmi'), meanAri: mean(runs, 'ari'), variantMeans };
  process.stderr.write(`output steps, mean over seeds: ${variantMeans.map((v) => `${v.step} acc ${v.acc.toFixed(4)} nmi ${v.nmi.toFixed(4)}`).join('; ')}\n`);
  process.stderr.write(`mean acc ${summary.meanAcc.toFixed(4)}  mean nmi ${summary.meanNmi.toFixed(4)}  mean ari ${summary.meanAri.toFixed(4)}\n`);
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
}
