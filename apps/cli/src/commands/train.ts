import { Option, type Command } from 'commander';
import { loadDataset } from '@cmbn/data';
import { clusteringMetrics } from '@cmbn/metrics';
import { architectureTextUsage, DEFAULT_STUDENT_SPEC, MLP, validateSpec } from '@cmbn/distill';
import { DEFAULT_AUGMENT_PER_POINT } from '@cmbn/pipeline';
import { saveModel, trainMbn, type TMbnParamsInput } from '@cmbn/mbn';
import { createTrainProgress } from '../progress.ts';
import { architectureOption, floatOption, intListOption, intOption } from '../options.ts';
import { printJson } from '../output.ts';
import { CliError } from '../errors.ts';
import { runDistillStep, studentSpecFromOptions, type DistillCliOptions } from '../distill-step.ts';

export interface TrainCliOptions extends DistillCliOptions {
  dataset: string;
  labels?: string;
  limit?: number;
  V?: number;
  a?: number;
  delta?: number;
  k1?: number;
  k?: number[];
  clusters?: number;
  seed?: number;
  kernel?: 'euclidean' | 'linear';
  threads?: number;
  shardSize?: number;
  out?: string;
  json?: boolean;
  progress: boolean;
}

export function addTrainOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--dataset <name|file>', 'mnist, mnist-train, mnist-test, or a .npy / .csv / IDX file')
    .option('--labels <file>', 'true labels (.npy, .csv or IDX) for the metrics; built-in datasets have their own')
    .option('--limit <n>', 'use only the first N points', intOption('--limit', 1))
    .option('--V <n>', 'clusterings per layer (default 400)', intOption('--V', 1))
    .option('--a <x>', 'fraction of features each clustering keeps, in (0,1] (default 0.5)', floatOption('--a'))
    .option('--delta <x>', 'k shrink factor between layers, in (0,1) (default 0.5)', floatOption('--delta'))
    .option('--k1 <n>', 'k of the bottom layer (default min(⌊N/2⌋, ⌊1e8/N⌋))', intOption('--k1', 1))
    .option('--k <list>', 'explicit k per layer, e.g. 1000,500,250 (overrides --k1/--delta)', intListOption('--k'))
    .option('--clusters <n>', 'output dimension and number of k-means clusters (default 10)', intOption('--clusters', 1))
    .option('--seed <n>', 'random seed; the same seed gives a bit-identical model (default 0)', intOption('--seed', 0))
    .addOption(new Option('--kernel <kind>', 'bottom-layer similarity (default euclidean)').choices(['euclidean', 'linear']))
    .option('--shard-size <n>', 'clusterings per shard (scheduling only; never changes the model)', intOption('--shard-size', 1));
}

/** The student options of `cmbn train` (issue 4): distil after MBN, optionally register. */
export function addDistillOptions(cmd: Command): Command {
  return cmd
    .option('--distill', 'after MBN, train a student network on its cluster labels and compare the two')
    .option('--register <name>', 'publish the student to the model registry under NAME (needs --distill)')
    .option('--student <list>', `student hidden layer widths, e.g. 256,256 (default ${DEFAULT_STUDENT_SPEC.hidden.join(',')})`, intListOption('--student'))
    .option(
      '--student-arch <kind[:params]>',
      `student architecture, a registered kind with its parameters, before the --student layers: ${architectureTextUsage()}; e.g. conv:8,3,1 (default ${MLP.kind})`,
      architectureOption('--student-arch'),
    )
    // Deprecated (2026-12-07) for --student-arch conv:F,K,S; kept so that scripts written against it still run.
    .addOption(new Option('--student-conv <filters,kernel,stride>', 'deprecated: --student-arch conv:filters,kernel,stride').argParser(intListOption('--student-conv')).hideHelp())
    .addOption(new Option('--student-target <kind>', "what the student learns: MBN's k-means labels or its embedding (MSE)").choices(['labels', 'embedding']))
    .option('--student-epochs <n>', `maximum student epochs; early stopping usually ends sooner (default ${DEFAULT_STUDENT_SPEC.epochs})`, intOption('--student-epochs', 1))
    .option('--student-temperature <t>', 'soft-target temperature for the labels target (0 = hard labels; default 0.25)', floatOption('--student-temperature'))
    .option(
      '--student-augment <n>',
      `distorted copies of the training images, labelled by MBN's predict, added to the student's training set (default ${DEFAULT_AUGMENT_PER_POINT} per training point for square images, else 0; 0 skips it)`,
      intOption('--student-augment', 0),
    )
    .addOption(new Option('--student-trainer <t>', "the student's trainer: tfjs (tfjs-wasm, the default) or ort (onnxruntime, ~3× faster epochs, mlp only; see docs/STUDENTS.md)").choices(['tfjs', 'ort']))
    .addOption(new Option('--student-precision <p>', 'onnxruntime precision of the student at prediction (default int8)').choices(['fp32', 'int8']))
    .option('--eval-dataset <name|file>', 'held-out points for the student/MBN comparison (default mnist-test for mnist/mnist-train, else none)')
    .option('--eval-labels <file>', 'true labels of --eval-dataset (a file)')
    .option('--eval-limit <n>', 'use only the first N held-out points', intOption('--eval-limit', 1));
}

export function paramsFromOptions(o: TrainCliOptions): TMbnParamsInput {
  const p: Record<string, unknown> = {};
  if (o.V !== undefined) p.V = o.V;
  if (o.a !== undefined) p.a = o.a;
  if (o.delta !== undefined) p.delta = o.delta;
  if (o.k1 !== undefined) p.k1 = o.k1;
  if (o.k !== undefined) p.k = o.k;
  if (o.clusters !== undefined) p.clusters = o.clusters;
  if (o.seed !== undefined) p.seed = o.seed;
  if (o.kernel !== undefined) p.kernel = o.kernel;
  return p as TMbnParamsInput;
}

export async function runLocalTrain(o: TrainCliOptions): Promise<void> {
  if (o.register !== undefined && !o.distill) throw new CliError('--register needs --distill');
  const ds = await loadDataset(o.dataset, { labels: o.labels, limit: o.limit });
  if (o.distill) {
    // A student spec that cannot read this data fails now, not after minutes of MBN.
    const spec = studentSpecFromOptions(o);
    try {
      validateSpec(spec, ds.x.cols);
    } catch (err) {
      throw new CliError(`--student-arch: ${(err as Error).message}`);
    }
  }
  const progress = createTrainProgress(o.progress);
  let result;
  try {
    result = await trainMbn(ds.x, paramsFromOptions(o), {
      threads: o.threads,
      shardSize: o.shardSize,
      onProgress: (p) => progress.update(p),
    });
  } finally {
    progress.stop();
  }
  const dir = o.out ?? `models/mbn-${result.modelHash.slice(0, 12)}`;
  const saved = await saveModel(dir, result.modelBytes);
  const summary: Record<string, unknown> = {
    ks: result.ks,
    mbnSeconds: Number(result.mbnSeconds.toFixed(3)),
    modelHash: saved.modelHash,
    modelBytes: saved.modelBytes,
    model: dir,
  };
  if (ds.labels) Object.assign(summary, clusteringMetrics(ds.labels, result.labels));
  if (!o.json) printMbnSummary(ds, result.ks, dir, saved, summary);
  if (o.distill) summary.student = await runDistillStep(o, ds, result, dir, saved.modelBytes);
  if (o.json) printJson(summary);
}

function printMbnSummary(
  ds: { x: { rows: number }; name: string; labels?: Int32Array },
  ks: number[],
  dir: string,
  saved: { modelBytes: number; modelHash: string },
  summary: Record<string, unknown>,
): void {
  process.stderr.write(
    `trained MBN on ${ds.x.rows} points of ${ds.name}: k = ${ks.join(', ')} in ${summary.mbnSeconds}s\n` +
      `model ${dir} (${(saved.modelBytes / 1e6).toFixed(1)} MB, sha256 ${saved.modelHash})\n` +
      (ds.labels ? `acc ${fmt(summary.acc)}  nmi ${fmt(summary.nmi)}  ari ${fmt(summary.ari)}\n` : ''),
  );
}

const fmt = (x: unknown) => (typeof x === 'number' ? x.toFixed(4) : String(x));
