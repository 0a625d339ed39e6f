/**
 * `cmbn train --distill [--register NAME]`: after MBN, train the student on MBN's output, compare
 * them on held-out points, save the student into `<model dir>/student/`, and optionally publish it
 * to the local registry — all of it @cmbn/pipeline's distilAndPublish, the worker's path too.
 */
import { join } from 'node:path';
import { loadDataset, type Dataset } from '@cmbn/data';
import {
  architectureFromParams,
  MLP,
  storedArchitecture,
  studentSpecFromRequest,
  trainerProblem,
  validateSpec,
  type StudentArchitecture,
  type StudentPrecision,
  type StudentSpec,
  type StudentTarget,
  type StudentTrainer,
} from '@cmbn/distill';
import type { TrainResult } from '@cmbn/mbn';
import { distilAndPublish, openLocalRegistry, prismaRegistry, type TStudentSummary } from '@cmbn/pipeline';
import type { JsonObject } from '@cmbn/registry';
import { CliError } from './errors.ts';
import type { ArchitectureOption } from './options.ts';

export interface DistillCliOptions {
  dataset: string;
  distill?: boolean;
  register?: string;
  student?: number[];
  /** --student-arch kind[:values] (options.ts architectureOption). */
  studentArch?: ArchitectureOption;
  /** Deprecated --student-conv F,K,S: the same as --student-arch conv:F,K,S. */
  studentConv?: number[];
  studentTarget?: StudentTarget;
  studentEpochs?: number;
  studentTemperature?: number;
  studentPrecision?: StudentPrecision;
  studentAugment?: number;
  studentTrainer?: StudentTrainer;
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

let warnedStudentConv = false;

/**
 * The architecture of --student-arch kind[:values]: the kind's defaults with the values over them
 * (@cmbn/distill architectureFromParams), or undefined for the MLP. --student-conv F,K,S is the
 * deprecated spelling of --student-arch conv:F,K,S.
 */
function architectureFromOptions(o: Pick<DistillCliOptions, 'studentArch' | 'studentConv'>): StudentArchitecture | undefined {
  let arch = o.studentArch;
  if (o.studentConv !== undefined) {
    if (arch !== undefined && arch.kind !== 'conv') throw new CliError(`--student-conv needs --student-arch conv, got ${arch.kind}`);
    if (arch?.values !== undefined) throw new CliError('--student-conv and --student-arch conv:… both set the convolution: use --student-arch alone');
    if (!warnedStudentConv) process.stderr.write(`cmbn: warning: --student-conv is deprecated: use --student-arch conv:${o.studentConv.join(',')}\n`);
    warnedStudentConv = true;
    arch = { kind: 'conv', values: o.studentConv };
  }
  if (arch === undefined) return undefined;
  try {
    return storedArchitecture(architectureFromParams(arch.kind, arch.values));
  } catch (err) {
    throw new CliError(`--student: ${(err as Error).message}`);
  }
}

/** The spec of --student / --student-target / --student-epochs, checked (a bad one is a CLI error). */
export function studentSpecFromOptions(o: Pick<DistillCliOptions, 'student' | 'studentArch' | 'studentConv' | 'studentTarget' | 'studentEpochs' | 'studentTrainer'>): StudentSpec {
  const architecture = architectureFromOptions(o);
  let spec: StudentSpec;
  try {
    // The builder the worker uses for a job's request too (@cmbn/distill studentSpecFromRequest).
    spec = studentSpecFromRequest({
      ...(architecture ? { architecture } : {}),
      ...(o.student ? { hidden: o.student } : {}),
      ...(o.studentTarget ? { target: o.studentTarget } : {}),
      ...(o.studentEpochs ? { epochs: o.studentEpochs } : {}),
    });
  } catch (err) {
    throw new CliError(`--student: ${(err as Error).message}`);
  }
  const trainer = trainerProblem(o.studentTrainer, spec.architecture);
  if (trainer !== null) throw new CliError(`--student-trainer: ${trainer}`);
  return spec;
}

/** studentSpecFromOptions, also checked against rows of `cols` columns (conv needs square images): a CLI error. */
export function studentSpecForData(o: Pick<DistillCliOptions, 'student' | 'studentArch' | 'studentConv' | 'studentTarget' | 'studentEpochs' | 'studentTrainer'>, cols: number): StudentSpec {
  const spec = studentSpecFromOptions(o);
  try {
    validateSpec(spec, cols);
  } catch (err) {
    throw new CliError(`--student-arch: ${(err as Error).message}`);
  }
  return spec;
}

/** Thin adapter over @cmbn/pipeline's distilAndPublish: the student goes to `<model dir>/student/`. */
export async function runDistillStep(
  o: DistillCliOptions,
  ds: Dataset,
  mbn: TrainResult,
  modelDir: string,
  modelBytes: number,
): Promise<TStudentSummary> {
  const log = (line: string): void => {
    if (o.progress) process.stderr.write(`${line}\n`);
  };
  const spec = studentSpecFromOptions(o);
  const evalSet = await loadEvalSet(o, ds);
  log(`distill: ${(spec.architecture ?? MLP).kind} student [${spec.hidden.join(', ')}] → ${spec.target} on ${ds.x.rows} points`);
  const studentDir = join(modelDir, 'student');
  const reg = o.register !== undefined ? await openLocalRegistry() : undefined;
  try {
    const r = await distilAndPublish(
      {
        x: ds.x,
        ...(ds.labels ? { trainTrueLabels: ds.labels } : {}),
        teacher: { labels: mbn.labels, embedding: mbn.embedding },
        mbn: { model: mbn.model, modelHash: mbn.modelHash, modelBytes, params: JSON.parse(JSON.stringify(mbn.params)) as JsonObject },
        spec,
        ...(evalSet ? { evalSet: { x: evalSet.x, name: evalSet.name, ...(evalSet.labels ? { trueLabels: evalSet.labels } : {}) } } : {}),
        ...(o.threads !== undefined ? { threads: o.threads } : {}),
        ...(o.studentTemperature !== undefined ? { temperature: o.studentTemperature } : {}),
        ...(o.studentPrecision !== undefined ? { precision: o.studentPrecision } : {}),
        ...(o.studentAugment !== undefined ? { augment: o.studentAugment } : {}),
        ...(o.studentTrainer !== undefined ? { trainer: o.studentTrainer } : {}),
        ...(o.register !== undefined ? { register: o.register } : {}),
        runId: null,
        tags: { source: 'cmbn train --distill', dataset: ds.name },
        outDir: studentDir,
      },
      {
        ...(reg ? { registry: prismaRegistry, store: reg.store } : {}),
        log,
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
      },
    );
    const s = r.summary;
    log(
      `student: agreement ${fmt(s.agreement)} with MBN on ${s.evaluatedOn === 'training points (no held-out set)' ? 'the TRAINING points' : `${s.evalPoints} held-out points`}` +
        (s.acc !== undefined ? `, acc ${fmt(s.acc)} (MBN ${fmt(s.mbnAcc)}), nmi ${fmt(s.nmi)} (MBN ${fmt(s.mbnNmi)})` : '') +
        `; ${s.studentPointsPerSecond} vs ${s.mbnPointsPerSecond} points/s = ${s.speedup.toFixed(0)}× faster; ` +
        `${s.studentBytes} bytes vs ${s.modelBytes} (${s.sizeRatio}× smaller) → ${studentDir}`,
    );
    return { ...s, dir: studentDir };
  } finally {
    await reg?.close();
  }
}

const fmt = (x: number | undefined): string => (x === undefined ? '–' : x.toFixed(4));
