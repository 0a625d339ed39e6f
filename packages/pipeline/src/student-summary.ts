import { MLP, type StudentSpec } from '@cmbn/distill';
import type { DistillResult } from './distill-student.ts';
import { ZStudentRecipe, ZStudentSummary, type TStudentRecipe, type TStudentSummary } from './student-schemas.ts';

const r4 = (x: number | undefined): number | undefined => (x === undefined ? undefined : Number(x.toFixed(4)));
const r1 = (x: number): number => Number(x.toFixed(1));

/**
 * The `student` object of a run's summary: the same fields whether the CLI distilled locally or a
 * worker did it for a remote run, so `train --json` reads the same either way. Checked by
 * ZStudentSummary here (the writer) and by whoever reads it back (the job result, the CLI).
 */
export function studentSummary(
  res: Pick<DistillResult, 'student' | 'evaluation' | 'augmented' | 'precision'>,
  recipe: Pick<TStudentRecipe, 'architecture' | 'hidden' | 'target'>,
  sizes: { studentBytes: number; modelBytes: number },
  name: string | null,
): TStudentSummary {
  const ev = res.evaluation;
  return ZStudentSummary.parse({
    acc: r4(ev.acc),
    nmi: r4(ev.nmi),
    agreement: r4(ev.agreement),
    speedup: r1(ev.speedup),
    backend: res.student.backend,
    version: null,
    name,
    studentPointsPerSecond: Math.round(ev.studentPointsPerSecond),
    mbnPointsPerSecond: Number(ev.mbnPointsPerSecond.toFixed(2)),
    mbnAcc: r4(ev.mbnAcc),
    mbnNmi: r4(ev.mbnNmi),
    studentBytes: sizes.studentBytes,
    modelBytes: sizes.modelBytes,
    sizeRatio: r1(sizes.modelBytes / sizes.studentBytes),
    evaluatedOn: ev.on === 'eval' ? (ev.evalName ?? 'eval') : 'training points (no held-out set)',
    evalPoints: ev.points,
    timingPoints: ev.timingPoints,
    architecture: recipe.architecture.kind,
    hidden: recipe.hidden,
    target: recipe.target,
    epochs: res.student.epochs,
    augmented: res.augmented,
    trainSeconds: Number(res.student.seconds.toFixed(2)),
    runtime: 'onnxruntime',
    precision: res.precision,
  });
}

/**
 * How a student was made, beyond its weights and its training record: saved in its student.json
 * (meta.recipe), so its summary can be rebuilt from the files alone (a retried distill job does).
 */
export type StudentRecipe = TStudentRecipe;

export function studentRecipe(res: Pick<DistillResult, 'augmented' | 'precision'>, spec: Pick<StudentSpec, 'architecture' | 'hidden' | 'target'>): TStudentRecipe {
  return ZStudentRecipe.parse({ architecture: spec.architecture ?? MLP, hidden: spec.hidden, target: spec.target, augmented: res.augmented, precision: res.precision });
}

const METRIC_KEYS = ['acc', 'nmi', 'agreement', 'speedup', 'mbnAcc', 'mbnNmi', 'studentPointsPerSecond', 'mbnPointsPerSecond', 'sizeRatio'] as const;

/** The numeric metrics of a studentSummary that a registered version records. */
export function studentMetrics(summary: TStudentSummary): Record<string, number> {
  const metrics: Record<string, number> = {};
  for (const k of METRIC_KEYS) {
    const v = summary[k];
    if (typeof v === 'number' && Number.isFinite(v)) metrics[k] = v;
  }
  return metrics;
}
