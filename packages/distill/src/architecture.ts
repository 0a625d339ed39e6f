/**
 * The student's architecture: a zod discriminated union on `kind`, and one implementation per kind
 * (ArchitectureImpl, architecture-kind.ts) that owns everything that differs between kinds — its
 * defaults and positional parameters (the CLI's `--student-arch conv:filters,kernel,stride`), its checks
 * against the input, how its first layer reads a row (a gather index: the same code then trains it,
 * runs it on tfjs, calibrates it and exports it to ONNX), the layers it puts before `hidden`
 * (leadingWidths, which also reads the hidden widths back from a student), and its part of the tfjs
 * layers model. Everything after the leading layers is the same dense stack (StudentLayer), so
 * training, int8 quantisation and the file format are shared, and this file's functions are the only
 * way the rest of the package, the CLI and the benches reach a kind: none of them names one.
 *
 * - mlp (architecture-mlp.ts): dense layers on the raw row. The default: a spec, a TrainedStudent or
 *   a student.json without an architecture is an MLP, and an MLP is stored without one
 *   (storedArchitecture), so its files keep the bytes of students saved before architectures were named.
 * - conv (architecture-conv.ts): one convolution over the row read as a square single-channel image,
 *   computed as a dense layer on im2col patches, then the dense layers.
 *
 * Adding a third kind (docs/ARCHITECTURE.md, "Adding a third architecture"): its file,
 * `architecture-<kind>.ts`, with its zod schema and its ArchitectureImpl; then its schema in the union
 * and its implementation in ARCHITECTURES (architecture-registry.ts; the map is typed total over the
 * union, so the compiler asks for the one with the other). Training, both runtimes, int8 calibration,
 * the files and the CLI's `--student-arch` parsing follow; the onnxruntime trainer stays mlp-only
 * (trainerProblem). architecture-seam.test.ts registers a test-only third kind that way and runs it
 * through all of them.
 *
 * Zod and type imports only: this is `@cmbn/distill/architecture`, imported by the job catalog, which
 * must not load tfjs or onnxruntime.
 */
import type { ArchitectureImpl, FirstLayerInput, TfjsHead } from './architecture-kind.ts';
import { ARCHITECTURES, ZStudentArchitecture, type StudentArchitecture } from './architecture-registry.ts';
import type { Tf } from './backend.ts';
import type { StudentLayer } from './types.ts';

export { ZStudentArchitecture, type StudentArchitecture };
export type { FirstLayerInput } from './architecture-kind.ts';
export type ArchitectureKind = StudentArchitecture['kind'];
/** The registered kinds, in registration order. */
export const ARCHITECTURE_KINDS: readonly ArchitectureKind[] = Object.freeze(Object.keys(ARCHITECTURES) as ArchitectureKind[]);

export const MLP: StudentArchitecture = ARCHITECTURES.mlp.defaults;
/** `--student-arch conv`'s defaults: 16 filters of 5×5, stride 2 (MNIST: 12×12×16 = 2304 features). */
export const DEFAULT_CONV: StudentArchitecture = ARCHITECTURES.conv.defaults;

/** The student's trainers: tfjs (train.ts, the default) and onnxruntime (train-ort.ts). */
export const STUDENT_TRAINERS = ['tfjs', 'ort'] as const;
export type StudentTrainer = (typeof STUDENT_TRAINERS)[number];

/**
 * Why `trainer` cannot train `architecture`, or null. The one rule, asked by the trainer itself, the
 * CLI (before MBN runs) and the coordinator (at submission): the onnxruntime trainer builds MLP graphs
 * only. It is that trainer's limit (train-ort.ts has no gather and no leading layers), not a property
 * of a kind, so a new kind is refused by it without saying so.
 */
export function trainerProblem(trainer: StudentTrainer | undefined, architecture: StudentArchitecture | undefined): string | null {
  const kind = (architecture ?? MLP).kind;
  if (trainer === 'ort' && kind !== MLP.kind) return `the onnxruntime trainer trains the ${MLP.kind} student only; a ${kind} student needs the tfjs trainer`;
  return null;
}

/** The implementation of a's kind, typed loosely: TypeScript cannot tie a union value to its member's implementation. */
function implOf(a: StudentArchitecture): ArchitectureImpl<StudentArchitecture> {
  return implOfKind((a as { kind?: unknown }).kind);
}

function implOfKind(kind: unknown): ArchitectureImpl<StudentArchitecture> {
  const impl = typeof kind === 'string' && Object.hasOwn(ARCHITECTURES, kind) ? ARCHITECTURES[kind as ArchitectureKind] : undefined;
  if (!impl) throw new RangeError(`unknown student architecture ${JSON.stringify(kind)} (known: ${ARCHITECTURE_KINDS.join(', ')})`);
  return impl as ArchitectureImpl<StudentArchitecture>;
}

/** Parses (unknown kind or bad field → RangeError) and checks against rows of d columns when d is given. */
export function checkArchitecture(a: unknown, d?: number): StudentArchitecture {
  const r = ZStudentArchitecture.safeParse(a);
  if (!r.success) {
    const kind = (a as { kind?: unknown } | null)?.kind;
    if (typeof kind !== 'string' || !(ARCHITECTURE_KINDS as readonly string[]).includes(kind)) {
      throw new RangeError(`unknown student architecture ${JSON.stringify(kind)} (known: ${ARCHITECTURE_KINDS.join(', ')})`);
    }
    const i = r.error.issues[0]!;
    throw new RangeError(`architecture ${kind}: ${i.path.join('.')}: ${i.message}`);
  }
  if (d !== undefined) implOf(r.data).check(r.data, d);
  return r.data;
}

/**
 * The architecture as specs, TrainedStudent and student.json carry it: undefined for the MLP, the
 * default, so that an MLP student's files are those of students saved before architectures were named.
 */
export function storedArchitecture(a: StudentArchitecture): StudentArchitecture | undefined {
  return a.kind === MLP.kind ? undefined : a;
}

/** What `--student-arch <kind>` alone trains. Throws a RangeError for an unknown kind. */
export function defaultArchitecture(kind: string): StudentArchitecture {
  return implOfKind(kind).defaults;
}

/** The names of a kind's positional parameters, in order (conv: filters, kernel, stride; mlp: none). */
export function architectureParams(kind: string): readonly string[] {
  return implOfKind(kind).params as readonly string[];
}

/**
 * The architecture of a kind and its positional parameters (`--student-arch
 * conv:16,5,2`): the kind's defaults with `values` over them in architectureParams order, checked
 * (checkArchitecture's RangeError). Without values, the defaults.
 */
export function architectureFromParams(kind: string, values?: readonly number[]): StudentArchitecture {
  const impl = implOfKind(kind);
  if (values === undefined) return impl.defaults;
  const params = impl.params as readonly string[];
  if (values.length !== params.length) throw new RangeError(`a ${kind} architecture takes ${params.length ? params.join(',') : 'no parameters'}, got ${values.join(',')}`);
  const a: Record<string, unknown> = { ...impl.defaults };
  params.forEach((p, i) => (a[p] = values[i]));
  return checkArchitecture(a);
}

/**
 * The text form of an architecture, `kind[:v1,v2,…]` (the CLI's `--student-arch`, bench:compression's):
 * a registered kind and, optionally, its positional parameters (architectureParams order), not yet
 * checked against the kind's ranges: architectureFromParams(kind, values) does that.
 */
export interface ArchitectureText {
  kind: ArchitectureKind;
  values?: number[];
}

/** Each registered kind's text form, for help and error texts: `mlp | conv[:filters,kernel,stride] (default 16,5,2)`. */
export function architectureTextUsage(): string {
  return ARCHITECTURE_KINDS.map((kind) => {
    const params = architectureParams(kind);
    if (params.length === 0) return kind;
    const d = defaultArchitecture(kind) as unknown as Record<string, unknown>;
    return `${kind}[:${params.join(',')}] (default ${params.map((p) => String(d[p])).join(',')})`;
  }).join(' | ');
}

/**
 * Parses `kind[:values]`: the registry's kinds and their positional parameters, so a new kind needs
 * no new parser. A RangeError says what is wrong, without naming a flag (callers prefix their own).
 */
export function parseArchitectureText(text: string): ArchitectureText {
  const [kind, rest, ...more] = text.split(':');
  if (!(ARCHITECTURE_KINDS as readonly string[]).includes(kind!)) {
    throw new RangeError(`"${kind}" is not a registered architecture; one of ${architectureTextUsage()}`);
  }
  const k = kind as ArchitectureKind;
  if (rest === undefined) return { kind: k };
  const params = architectureParams(k);
  const form = params.length ? `${k}:${params.join(',')}` : 'no parameters';
  if (more.length > 0 || params.length === 0) throw new RangeError(`${k} takes ${form}, got "${text}"`);
  const parts = rest.split(',').map((s) => s.trim());
  const values = parts.map(Number);
  if (parts.some((p) => p === '') || values.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new RangeError(`${k}'s parameters must be positive integers (${form}), got "${text}"`);
  }
  if (values.length !== params.length) throw new RangeError(`${k} takes ${form}, got "${text}"`);
  return { kind: k, values };
}

/** How layer 0 reads a row of d columns (the architecture checked against d first). */
export function firstLayerInput(a: StudentArchitecture, d: number): FirstLayerInput {
  return implOf(a).firstLayer(a, d);
}

/** The widths of the layers the architecture puts before spec.hidden (conv: [filters]; mlp: none). */
export function leadingWidths(a: StudentArchitecture): number[] {
  return implOf(a).leadingWidths(a);
}

/** The hidden widths a student was trained with (its spec.hidden), read back from its layers. */
export function hiddenWidths(student: { architecture?: StudentArchitecture; layers: readonly Pick<StudentLayer, 'outDim'>[] }): number[] {
  return student.layers.slice(leadingWidths(student.architecture ?? MLP).length, -1).map((l) => l.outDim);
}

/** The tfjs layers model's part for the architecture's leading layers (layers-model.ts). */
export function tfjsHead(tf: Tf, a: StudentArchitecture, inputDims: number, layers: readonly StudentLayer[]): TfjsHead {
  return implOf(a).tfjsHead(tf, a, inputDims, layers.slice(0, leadingWidths(a).length));
}
