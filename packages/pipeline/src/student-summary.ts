import type { StudentPrecision, StudentSpec, StudentTarget } from '@cmbn/distill';
import type { DistillResult } from './distill-student.ts';

const r4 = (x: number | undefined): number | undefined => (x === undefined ? undefined : Number(x.toFixed(4)));
const r1 = (x: number): number => Number(x.toFixed(1));

/**
 * The `student` object of a run's summary: the same fields whether the CLI distilled locally or a
 * worker did it for a remote run, so `train --json` reads the same either way.
 */
export function studentSummary(
  res: DistillResult,
  spec: StudentSpec,
  sizes: { studentBytes: number; modelBytes: number },
  name: string | null,
): Record<string, unknown> {
  const ev = res.evaluation;
  return {
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
    hidden: spec.hidden,
    target: spec.target,
    epochs: res.student.epochs,
    augmented: res.augmented,
    trainSeconds: Number(res.student.seconds.toFixed(2)),
    runtime: 'onnxruntime',
    precision: res.precision,
  };
}

/**
 * How a student was made, beyond its weights and its training record: saved in its student.json
 * (meta.recipe), so its summary can be rebuilt from the files alone (a retried distill job does).
 */
export interface StudentRecipe {
  hidden: number[];
  target: StudentTarget;
  augmented: number;
  precision: StudentPrecision;
}

export function studentRecipe(res: DistillResult, spec: StudentSpec): StudentRecipe {
  return { hidden: spec.hidden, target: spec.target, augmented: res.augmented, precision: res.precision };
}

const METRIC_KEYS = ['acc', 'nmi', 'agreement', 'speedup', 'mbnAcc', 'mbnNmi', 'studentPointsPerSecond', 'mbnPointsPerSecond', 'sizeRatio'] as const;

/** The numeric metrics of a studentSummary that a registered version records. */
export function studentMetrics(summary: Record<string, unknown>): Record<string, number> {
  const metrics: Record<string, number> = {};
  for (const k of METRIC_KEYS) {
    const v = summary[k];
    if (typeof v === 'number' && Number.isFinite(v)) metrics[k] = v;
  }
  return metrics;
}
