/**
 * The student's portable files: DIR/model.onnx (fp32) and DIR/model.int8.onnx (int8 weights, uint8
 * activations), the very graphs the onnxruntime predictor runs (buildStudentOnnx), serialised at save
 * time so that any ONNX runtime (Python onnxruntime, onnxruntime-web, C++) can run a pulled student
 * without cmbn. The graph's calling convention (the "portable signature") is written twice, with one
 * schema: in each file's metadata_props (key `cmbn.signature`, JSON) and in student.json (`onnx`).
 */
import { z } from 'zod';
import { studentGraph, type StudentPrecision } from './onnx-student.ts';
import type { StudentSignature, TrainedStudent } from './types.ts';

export const ONNX_FILES: Readonly<Record<StudentPrecision, string>> = Object.freeze({ fp32: 'model.onnx', int8: 'model.int8.onnx' });
/** The metadata_props key that holds the portable signature's JSON. */
export const ONNX_SIGNATURE_KEY = 'cmbn.signature';

/**
 * How to call the graph: feed `input.name` an `input.dtype` tensor of shape [n, d] (raw values: the
 * normalisation x·scale is folded into the first layer, so uint8 pixels go in as they are), read
 * `output.name`: int32 [n] cluster labels (`kind: 'labels'`, `classes` of them) or float32
 * [n, embeddingSize] MBN embeddings (`kind: 'embedding'`; student.json's meta.head maps them to labels).
 */
export const ZOnnxSignature = z
  .object({
    files: z.object({ fp32: z.string().min(1), int8: z.string().min(1) }).strict(),
    input: z
      .object({
        name: z.string().min(1),
        /** 'n' is the free batch dimension. */
        shape: z.tuple([z.literal('n'), z.number().int().min(1)]),
        dtype: z.enum(['uint8', 'float32']),
      })
      .strict(),
    /** What the graph does to the input before the first layer (already inside the graph). */
    normalisation: z.object({ kind: z.literal('scale'), scale: z.number().positive() }).strict(),
    output: z
      .object({
        name: z.string().min(1),
        kind: z.enum(['labels', 'embedding']),
        dtype: z.enum(['int32', 'float32']),
        shape: z.union([z.tuple([z.literal('n')]), z.tuple([z.literal('n'), z.number().int().min(1)])]),
        classes: z.number().int().min(2).optional(),
        embeddingSize: z.number().int().min(1).optional(),
      })
      .strict(),
  })
  .strict();
export type TOnnxSignature = z.infer<typeof ZOnnxSignature>;

export function onnxSignature(signature: StudentSignature): TOnnxSignature {
  const labels = signature.output.kind === 'labels';
  const size = signature.output.size;
  return ZOnnxSignature.parse({
    files: { ...ONNX_FILES },
    input: { name: 'X', shape: ['n', signature.inputDims], dtype: signature.inputDType },
    normalisation: { kind: signature.normalisation.kind, scale: signature.normalisation.scale },
    output: labels
      ? { name: 'labels', kind: 'labels', dtype: 'int32', shape: ['n'], classes: size }
      : { name: 'values', kind: 'embedding', dtype: 'float32', shape: ['n', size], embeddingSize: size },
  });
}

/** The two ONNX files' bytes, each carrying the portable signature in its metadata_props. */
export function studentOnnxFiles(student: Pick<TrainedStudent, 'signature' | 'layers' | 'architecture' | 'activationRanges'>): { name: string; bytes: Uint8Array }[] {
  const sig = onnxSignature(student.signature);
  const metadata = { [ONNX_SIGNATURE_KEY]: JSON.stringify(sig), 'cmbn.precision': '' };
  return (['fp32', 'int8'] as const).map((precision) => {
    const { bytes, output } = studentGraph(student, { precision, metadata: { ...metadata, 'cmbn.precision': precision } });
    if (output !== sig.output.name) throw new Error(`ONNX graph output ${output} ≠ signature ${sig.output.name}`);
    return { name: ONNX_FILES[precision], bytes };
  });
}
