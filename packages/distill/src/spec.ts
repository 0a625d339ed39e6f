/** What the student learns and how it is trained. */
import { checkArchitecture, MLP, type StudentArchitecture } from './architecture.ts';

export type StudentTarget = 'labels' | 'embedding';

export interface StudentSpec {
  /** What reads the input before the dense layers (architecture.ts); default the plain MLP. */
  architecture?: StudentArchitecture;
  /** Hidden ReLU layer widths, input side first (after the conv layer for a conv student). */
  hidden: number[];
  target: StudentTarget;
  /** Upper bound; early stopping usually ends sooner. */
  epochs: number;
  batchSize: number;
  /** Adam step size. */
  learningRate: number;
  /** Factor applied to the Adam step after each epoch without a validation improvement; unset or 1 keeps it constant. */
  lrDecay?: number;
  /** Fraction of the (seeded-shuffled) rows held out for early stopping; 0 stops on the training loss. */
  validationSplit: number;
  /** Epochs without a validation-loss improvement before stopping; the best epoch's weights are restored. */
  patience: number;
  seed: number;
}

/**
 * Chosen by measurement (docs/STUDENTS.md, "How the student's defaults were chosen", has the tables):
 * [512, 512] because on MBN's labels of the training points alone every width plateaus near 93.5 %
 * agreement (the limit is what those points say about MBN's boundaries, not capacity), and with the
 * pipeline's teacher-labelled distortions (6× the data) the wider net pays off; halving the Adam step
 * after each epoch without a validation improvement (patience 4) lets it settle. It costs ~2.5× the
 * FLOP of [256, 256] per point, which the ≥ 1000× speedup target affords with the int8 runtime.
 * batchSize 128 with Adam 1e-3 converges in ~10–15 epochs; 512 halves the epoch time but needs more.
 */
export const DEFAULT_STUDENT_SPEC: StudentSpec = Object.freeze({
  hidden: [512, 512],
  target: 'labels',
  epochs: 30,
  batchSize: 128,
  learningRate: 1e-3,
  lrDecay: 0.5,
  validationSplit: 0.1,
  patience: 4,
  seed: 1,
}) as StudentSpec;

/** Throws a RangeError naming the first bad field; with inputDims, also checks the architecture against the input. */
export function validateSpec(spec: StudentSpec, inputDims?: number): void {
  checkArchitecture(spec.architecture ?? MLP, inputDims);
  if (!Array.isArray(spec.hidden) || spec.hidden.some((h) => !Number.isInteger(h) || h < 1)) {
    throw new RangeError(`hidden must be positive integers, got ${JSON.stringify(spec.hidden)}`);
  }
  if (spec.target !== 'labels' && spec.target !== 'embedding') throw new RangeError(`unknown target ${String(spec.target)}`);
  if (!Number.isInteger(spec.epochs) || spec.epochs < 1) throw new RangeError(`epochs must be ≥ 1, got ${spec.epochs}`);
  if (!Number.isInteger(spec.batchSize) || spec.batchSize < 1) throw new RangeError(`batchSize must be ≥ 1, got ${spec.batchSize}`);
  if (!(spec.learningRate > 0)) throw new RangeError(`learningRate must be > 0, got ${spec.learningRate}`);
  if (spec.lrDecay !== undefined && !(spec.lrDecay > 0 && spec.lrDecay <= 1)) throw new RangeError(`lrDecay must be in (0, 1], got ${spec.lrDecay}`);
  if (!(spec.validationSplit >= 0 && spec.validationSplit < 1)) {
    throw new RangeError(`validationSplit must be in [0, 1), got ${spec.validationSplit}`);
  }
  if (!Number.isInteger(spec.patience) || spec.patience < 0) throw new RangeError(`patience must be ≥ 0, got ${spec.patience}`);
  if (!Number.isInteger(spec.seed)) throw new RangeError(`seed must be an integer, got ${spec.seed}`);
}

/**
 * The StudentSpec fields a request may set: the CLI's `--student*` flags (apps/cli distill-step.ts)
 * and the distill job's ZStudentRequest (@cmbn/jobs; extra fields such as `temperature` are ignored).
 */
export type StudentSpecRequest = Partial<Pick<StudentSpec, 'architecture' | 'hidden' | 'target' | 'epochs' | 'batchSize' | 'learningRate' | 'seed'>>;

/**
 * The request over DEFAULT_STUDENT_SPEC, checked (validateSpec's RangeError; against rows of
 * `inputDims` columns when given): the one builder of the CLI and the worker, so that both paths
 * train the same student for the same request.
 */
export function studentSpecFromRequest(req: StudentSpecRequest, inputDims?: number): StudentSpec {
  const spec: StudentSpec = {
    ...DEFAULT_STUDENT_SPEC,
    ...(req.architecture ? { architecture: req.architecture } : {}),
    ...(req.hidden ? { hidden: req.hidden } : {}),
    ...(req.target ? { target: req.target } : {}),
    ...(req.epochs !== undefined ? { epochs: req.epochs } : {}),
    ...(req.batchSize !== undefined ? { batchSize: req.batchSize } : {}),
    ...(req.learningRate !== undefined ? { learningRate: req.learningRate } : {}),
    ...(req.seed !== undefined ? { seed: req.seed } : {}),
  };
  validateSpec(spec, inputDims);
  return spec;
}
