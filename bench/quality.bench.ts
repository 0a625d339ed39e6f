/**
 * Quality bar of issue 2: MBN on the first 10,000 MNIST digits, V=100, other params at their
 * defaults, seeds 1, 2, 3. Prints each seed and the means; `--json` prints one JSON object.
 *
 *   npm run bench:quality -- [--limit 10000] [--V 100] [--seeds 1,2,3] [--json]
 */
import { parseArgs } from 'node:util';
import { loadDataset } from '@cmbn/data';
import { clusteringMetrics } from '@cmbn/metrics';
import { trainMbn } from '@cmbn/mbn';

const { values } = parseArgs({
  options: {
    limit: { type: 'string', default: '10000' },
    V: { type: 'string', default: '100' },
    seeds: { type: 'string', default: '1,2,3' },
    dataset: { type: 'string', default: 'mnist' },
    json: { type: 'boolean', default: false },
  },
});

const ds = await loadDataset(values.dataset, { limit: Number(values.limit) });
const seeds = values.seeds.split(',').map(Number);
const runs: { seed: number; acc: number; nmi: number; ari: number; mbnSeconds: number; modelHash: string; modelBytes: number }[] = [];
for (const seed of seeds) {
  const r = await trainMbn(ds.x, { V: Number(values.V), seed });
  const m = clusteringMetrics(ds.labels!, r.labels);
  runs.push({ seed, ...m, mbnSeconds: r.mbnSeconds, modelHash: r.modelHash, modelBytes: r.modelBytes.length });
  process.stderr.write(
    `seed ${seed}: acc ${m.acc.toFixed(4)} nmi ${m.nmi.toFixed(4)} ari ${m.ari.toFixed(4)} in ${r.mbnSeconds.toFixed(1)}s, ks ${r.ks.join(',')}, model ${(r.modelBytes.length / 1e6).toFixed(1)} MB\n`,
  );
}
const mean = (k: 'acc' | 'nmi' | 'ari') => runs.reduce((s, r) => s + r[k], 0) / runs.length;
const summary = { dataset: values.dataset, points: ds.x.rows, V: Number(values.V), runs, meanAcc: mean('acc'), meanNmi: mean('nmi'), meanAri: mean('ari') };
process.stderr.write(`mean acc ${summary.meanAcc.toFixed(4)}  mean nmi ${summary.meanNmi.toFixed(4)}  mean ari ${summary.meanAri.toFixed(4)}\n`);
if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
