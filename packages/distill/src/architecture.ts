/**
 * The student's architecture: a discriminated union (`kind`), and one implementation per kind that owns
 * what differs between them — the checks against the input, how the first layer reads a batch in
 * training and in tfjs prediction, the ONNX graph around the layers, and the tfjs layers model.
 * Everything after the first layer is the same dense stack (StudentLayer), so training, int8
 * quantisation and the file format are shared.
 *
 * - mlp: dense layers on the raw row.
 * - conv: one convolution (a `kernel`×`kernel` window, `stride`, no padding, `filters` channels, ReLU)
 *   over the row read as a square single-channel image, then the dense layers. It is computed as a dense
 *   layer on im2col patches: the rows' pixels are gathered into P = side'² patches of kernel² values
 *   (patch p, offset (dy, dx) ↦ pixel (sy·stride + dy)·side + sx·stride + dx), layer 0 maps each patch
 *   to `filters` values, and the n·P × filters result is read as n × (P·filters) (position-major,
 *   channel-minor: exactly tf.layers.flatten's order of a channels-last [side', side', filters] map).
 *   So training runs at tfjs-wasm's untransposed GEMM speed (dense-op.ts; tfjs-wasm has no
 *   Conv2DBackpropFilter at all), and the ONNX graph is Gather → Reshape → the dense ops → Reshape.
 *
 * Adding a third kind: a member of ZStudentArchitecture, an entry in ARCHITECTURES (the compiler asks for
 * it: the map is total over the kinds), and, if it is not "something, then the dense stack", its own
 * layer record; see docs/ARCHITECTURE.md.
 */
import { z } from 'zod';

export const ZStudentArchitecture = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('mlp') }).strict(),
  z
    .object({
      kind: z.literal('conv'),
      filters: z.number().int().min(1).max(1024),
      kernel: z.number().int().min(1).max(64),
      stride: z.number().int().min(1).max(64),
    })
    .strict(),
]);
export type StudentArchitecture = z.infer<typeof ZStudentArchitecture>;
export type ArchitectureKind = StudentArchitecture['kind'];
export const ARCHITECTURE_KINDS: readonly ArchitectureKind[] = ['mlp', 'conv'];

export const MLP: StudentArchitecture = Object.freeze({ kind: 'mlp' });
/** `--student-arch conv`'s defaults: 16 filters of 5×5, stride 2 (MNIST: 12×12×16 = 2304 features). */
export const DEFAULT_CONV: StudentArchitecture = Object.freeze({ kind: 'conv', filters: 16, kernel: 5, stride: 2 });

/** The student's trainers: tfjs (train.ts, the default) and onnxruntime (train-ort.ts). */
export const STUDENT_TRAINERS = ['tfjs', 'ort'] as const;
export type StudentTrainer = (typeof STUDENT_TRAINERS)[number];

/**
 * Why `trainer` cannot train `architecture`, or null. The one rule, asked by the trainer itself, the
 * CLI (before MBN runs) and the coordinator (at submission): the onnxruntime trainer builds MLP graphs only.
 */
export function trainerProblem(trainer: StudentTrainer | undefined, architecture: StudentArchitecture | undefined): string | null {
  const kind = architecture?.kind ?? 'mlp';
  if (trainer === 'ort' && kind !== 'mlp') return `the onnxruntime trainer trains the mlp student only; a ${kind} student needs the tfjs trainer`;
  return null;
}

/** How the first dense layer sees one input row. */
export interface FirstLayerInput {
  /** Columns of layer 0's input (d for mlp, kernel² for conv). */
  inDim: number;
  /** Rows of layer 0 per input row (1 for mlp, P for conv). */
  positions: number;
  /** conv: the gather index (P·kernel² pixel indices, patch-major). */
  patchIndex?: Int32Array;
  /** conv: the image side. */
  side?: number;
  /** conv: the output map side. */
  outSide?: number;
}

interface ArchitectureImpl<A extends StudentArchitecture> {
  /** Throws a RangeError naming the problem when this architecture cannot read rows of d columns. */
  check(a: A, d: number): void;
  firstLayer(a: A, d: number): FirstLayerInput;
}

function squareSide(d: number): number | undefined {
  const s = Math.round(Math.sqrt(d));
  return s * s === d ? s : undefined;
}

const mlpImpl: ArchitectureImpl<Extract<StudentArchitecture, { kind: 'mlp' }>> = {
  check() {},
  firstLayer: (_a, d) => ({ inDim: d, positions: 1 }),
};

const convImpl: ArchitectureImpl<Extract<StudentArchitecture, { kind: 'conv' }>> = {
  check(a, d) {
    const side = squareSide(d);
    if (side === undefined) throw new RangeError(`a conv student needs square single-channel images; rows of ${d} columns are not a square`);
    if (a.kernel > side) throw new RangeError(`conv kernel ${a.kernel} is larger than the ${side}×${side} image`);
  },
  firstLayer(a, d) {
    convImpl.check(a, d);
    const side = squareSide(d)!;
    const outSide = Math.floor((side - a.kernel) / a.stride) + 1;
    const P = outSide * outSide;
    const kk = a.kernel * a.kernel;
    const patchIndex = new Int32Array(P * kk);
    for (let sy = 0; sy < outSide; sy++) {
      for (let sx = 0; sx < outSide; sx++) {
        const p = sy * outSide + sx;
        for (let dy = 0; dy < a.kernel; dy++) {
          for (let dx = 0; dx < a.kernel; dx++) patchIndex[p * kk + dy * a.kernel + dx] = (sy * a.stride + dy) * side + sx * a.stride + dx;
        }
      }
    }
    return { inDim: kk, positions: P, patchIndex, side, outSide };
  },
};

const ARCHITECTURES: { [K in ArchitectureKind]: ArchitectureImpl<Extract<StudentArchitecture, { kind: K }>> } = { mlp: mlpImpl, conv: convImpl };

function implOf(a: StudentArchitecture): ArchitectureImpl<StudentArchitecture> {
  const impl = ARCHITECTURES[a.kind] as ArchitectureImpl<StudentArchitecture> | undefined;
  if (!impl) throw new RangeError(`unknown student architecture ${JSON.stringify((a as { kind?: unknown }).kind)} (known: ${ARCHITECTURE_KINDS.join(', ')})`);
  return impl;
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

export function firstLayerInput(a: StudentArchitecture, d: number): FirstLayerInput {
  return implOf(a).firstLayer(a, d);
}
