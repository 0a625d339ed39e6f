/**
 * `cmbn train --distill [--register NAME]`: after MBN, train the student on MBN's output, compare
 * them on held-out points, save the student into `<model dir>/student/`, and optionally publish it
 * to the local registry.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { loadDataset, type Dataset } from '@cmbn/data';
import { DEFAULT_STUDENT_SPEC, saveStudent, type StudentPrecision, type StudentSpec, type StudentTarget } from '@cmbn/distill';
import type { TrainResult } from '@cmbn/mbn';
import {
  datasetSha256,
  directoryBytes,
  distillStudent,
  openLocalRegistry,
  packStudentDirectory,
  publishStudent,
  studentMetrics,
  studentRecipe,
  studentSummary,
  type StudentEvaluation,
} from '@cmbn/pipeline';
import { CliError } from './errors.ts';

export interface DistillCliOptions {
  dataset: string;
  distill?: boolean;
  register?: string;
  student?: number[];
  studentTarget?: StudentTarget;
  studentEpochs?: number;
  studentTemperature?: number;
  studentPrecision?: StudentPrecision;
  studentAugment?: number;
  evalDataset?: string;
  evalLabels?: string;
  evalLimit?: number;
  threads?: number;
  progress: boolean;
}

const MNIST_TRAINING = new Set(['mnist', 'mnist-train']);

/** The held-out set of a distillation: --eval-dataset, or mnist-test when training on MNIST. */
export async function loadEvalSet(
  o: Pick<DistillCliOptions, 'dataset' | 'evalDataset' | 'evalLabels' | 'evalLimit'>,
  train: Dataset,
): Promise<Dataset | undefined> {
  let spec = o.evalDataset;
  if (spec === undefined) {
    if (o.evalLabels !== undefined) throw new CliError('--eval-labels needs --eval-dataset');
    if (!MNIST_TRAINING.has(o.dataset)) return undefined;
    spec = 'mnist-test';
  }
  const ev = await loadDataset(spec, { labels: o.evalLabels, limit: o.evalLimit });
  if (ev.x.cols !== train.x.cols) throw new CliError(`--eval-dataset ${spec} has ${ev.x.cols} columns, the training data ${train.x.cols}`);
  if (ev.x.dtype !== train.x.dtype) throw new CliError(`--eval-dataset ${spec} is ${ev.x.dtype}, the training data ${train.x.dtype}`);
  return ev;
}

export async function runDistillStep(
  o: DistillCliOptions,
  ds: Dataset,
  mbn: TrainResult,
  modelDir: string,
  modelBytes: number,
): Promise<Record<string, unknown>> {
  const log = (line: string): void => {
    if (o.progress) process.stderr.write(`${line}\n`);
  };
  const spec: StudentSpec = {
    ...DEFAULT_STUDENT_SPEC,
    ...(o.student ? { hidden: o.student } : {}),
    ...(o.studentTarget ? { target: o.studentTarget } : {}),
    ...(o.studentEpochs ? { epochs: o.studentEpochs } : {}),
  };
  const evalSet = await loadEvalSet(o, ds);
  log(`distill: student [${spec.hidden.join(', ')}] → ${spec.target} on ${ds.x.rows} points`);
  const res = await distillStudent({
    x: ds.x,
    mbnLabels: mbn.labels,
    mbnEmbedding: mbn.embedding,
    classes: mbn.params.clusters,
    spec,
    mbnModel: mbn.model,
    ...(evalSet ? { evalSet: { x: evalSet.x, name: evalSet.name, ...(evalSet.labels ? { trueLabels: evalSet.labels } : {}) } } : {}),
    ...(ds.labels ? { trainTrueLabels: ds.labels } : {}),
    ...(o.threads !== undefined ? { threads: o.threads } : {}),
    ...(o.studentTemperature !== undefined ? { temperature: o.studentTemperature } : {}),
    ...(o.studentPrecision !== undefined ? { precision: o.studentPrecision } : {}),
    ...(o.studentAugment !== undefined ? { augment: o.studentAugment } : {}),
    onAugment: (done, total) => {
      if (done === total || done % 10000 === 0) log(` labelled ${done}/${total} augmented points with MBN's predict`);
    },
    onEpoch: (e) =>
      log(
        ` student epoch ${e.epoch}/${e.epochs}: loss ${e.loss.toFixed(4)} val ${e.valLoss.toFixed(4)}` +
          `${e.valAcc !== undefined ? ` val-agreement ${e.valAcc.toFixed(4)}` : ''} (${e.seconds.toFixed(1)}s)`,
      ),
    onStage: (s) => {
      if (s === 'augment') log(" distorting the training images; MBN's predict labels them…");
      if (s === 'mbn-predict') log(` timing MBN predict on ${evalSet ? `${evalSet.x.rows} held-out points of ${evalSet.name}` : 'training points'}…`);
      if (s === 'student-predict') log(' timing the student (onnxruntime)…');
    },
  });
  const ev: StudentEvaluation = res.evaluation;
  const dataSha = datasetSha256(ds.x);
  const studentDir = join(modelDir, 'student');
  const params = JSON.parse(JSON.stringify(mbn.params)) as Record<string, unknown>;
  await saveStudent(res.student, studentDir, {
    mbnModelHash: mbn.modelHash,
    datasetSha256: dataSha,
    params,
    evaluation: ev,
    recipe: studentRecipe(res, spec),
    ...(res.head ? { head: res.head } : {}),
  });
  const studentBytes = await directoryBytes(studentDir);
  const summary: Record<string, unknown> = {
    ...studentSummary(res, spec, { studentBytes, modelBytes }, o.register ?? null),
    dir: studentDir,
  };
  log(
    `student: agreement ${fmt(ev.agreement)} with MBN on ${ev.on === 'eval' ? `${ev.points} held-out points` : 'the TRAINING points'}` +
      (ev.acc !== undefined ? `, acc ${fmt(ev.acc)} (MBN ${fmt(ev.mbnAcc)}), nmi ${fmt(ev.nmi)} (MBN ${fmt(ev.mbnNmi)})` : '') +
      `; ${Math.round(ev.studentPointsPerSecond)} vs ${ev.mbnPointsPerSecond.toFixed(1)} points/s = ${ev.speedup.toFixed(0)}× faster; ` +
      `${studentBytes} bytes vs ${modelBytes} (${(modelBytes / studentBytes).toFixed(1)}× smaller) → ${studentDir}`,
  );

  if (o.register !== undefined) {
    const reg = await openLocalRegistry();
    try {
      const archive = await packStudentDirectory(studentDir);
      const archiveSha = createHash('sha256').update(archive).digest('hex');
      const metrics: Record<string, unknown> = studentMetrics(summary);
      metrics.evaluatedOn = summary.evaluatedOn;
      metrics.evalPoints = ev.points;
      const v = await publishStudent({
        studentDir,
        name: o.register,
        store: reg.store,
        lineage: { runId: null, datasetSha256: dataSha, mbnModelHash: mbn.modelHash, params, backend: res.student.backend },
        metrics,
        tags: { source: 'cmbn train --distill', dataset: ds.name, hidden: spec.hidden.join(','), target: spec.target },
        // The same student archive published twice under one name is one version.
        idempotencyKey: `${o.register}:${archiveSha}`,
      });
      summary.version = v.version;
      summary.artifactSha256 = v.artifactSha256;
      log(`registered ${v.name}:${v.version} (artifact sha256 ${v.artifactSha256})`);
    } finally {
      await reg.close();
    }
  }
  return summary;
}

const fmt = (x: number | undefined): string => (x === undefined ? '–' : x.toFixed(4));
