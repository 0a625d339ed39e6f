/**
 * DIR/model.json + DIR/weights.bin: the standard tfjs layers-model files (what tfjs-node's `file://`
 * handler writes: modelTopology, weightsManifest [{paths, weights}], format, generatedBy).
 * DIR/model.onnx + DIR/model.int8.onnx: the portable graphs (onnx-files.ts).
 * DIR/student.json: {format: 'cmbn-student', version: 1, signature, onnx, architecture?, activationRanges?, meta, training} (ZStudentJson).
 */
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { io } from '@tensorflow/tfjs';
import { z } from 'zod';
import { loadTf } from './backend.ts';
import { buildLayersModel } from './layers-model.ts';
import { onnxSignature, studentOnnxFiles, ZOnnxSignature } from './onnx-files.ts';
import { firstLayerInput, leadingWidths, MLP, ZStudentArchitecture, type FirstLayerInput } from './architecture.ts';
import type { LayerActivation, StudentLayer, TrainedStudent } from './types.ts';

export const STUDENT_FORMAT = 'cmbn-student';
export const STUDENT_VERSION = 1;
const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';
const STUDENT_JSON = 'student.json';

export const ZStudentSignature = z
  .object({
    inputDims: z.number().int().min(1),
    inputDType: z.enum(['uint8', 'float32']),
    normalisation: z.object({ kind: z.literal('scale'), scale: z.number().positive() }),
    output: z.object({ kind: z.enum(['labels', 'embedding']), size: z.number().int().min(1) }),
  })
  .strict();

/** student.json: written by saveStudent, read (and checked) by loadStudent / readStudentMeta. */
export const ZStudentJson = z.object({
  format: z.literal(STUDENT_FORMAT),
  version: z.literal(STUDENT_VERSION),
  signature: ZStudentSignature,
  /** Absent in students saved before the ONNX files were. */
  onnx: ZOnnxSignature.optional(),
  /** Absent: the MLP. */
  architecture: ZStudentArchitecture.optional(),
  /**
   * Each layer's input [min, max] over the training inputs: the int8 graph's fixed activation
   * quantisation (calibrate.ts). Absent in students saved before calibration (their int8 graph
   * quantises each batch by its own range).
   */
  activationRanges: z.array(z.tuple([z.number().finite(), z.number().finite()]).refine(([lo, hi]) => lo <= hi, 'min > max')).min(1).optional(),
  /** The pipeline's lineage/evaluation/recipe/head; @cmbn/pipeline's ZStudentMeta checks its fields. */
  meta: z.record(z.string(), z.unknown()).default({}),
  training: z.object({
    backend: z.enum(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu', 'onnxruntime']),
    seconds: z.number().min(0),
    epochs: z.number().int().min(0),
    history: z.object({ loss: z.array(z.number()), valLoss: z.array(z.number()), valAcc: z.array(z.number()).optional() }),
  }),
});
export type TStudentJson = z.infer<typeof ZStudentJson>;

/** Parses DIR/student.json with a message that names the file and the first bad field. */
async function readStudentJson(dir: string): Promise<TStudentJson> {
  const path = join(dir, STUDENT_JSON);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
  const fmt = (raw as { format?: unknown } | null)?.format;
  if (fmt !== STUDENT_FORMAT) throw new Error(`${path} is not a ${STUDENT_FORMAT} file`);
  const ver = (raw as { version?: unknown }).version;
  if (ver !== STUDENT_VERSION) throw new Error(`unsupported ${STUDENT_FORMAT} version ${String(ver)}`);
  const r = ZStudentJson.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new Error(`${path}: ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  return r.data;
}

interface ModelJson {
  format: string;
  generatedBy: string;
  convertedBy: string | null;
  modelTopology: unknown;
  weightsManifest: { paths: string[]; weights: io.WeightsManifestEntry[] }[];
}

export async function saveStudent(student: TrainedStudent, dir: string, meta: Record<string, unknown> = {}): Promise<{ files: string[] }> {
  const { tf } = await loadTf();
  const model = buildLayersModel(tf, student.layers, student.architecture, student.signature.inputDims);
  let artifacts: io.ModelArtifacts | undefined;
  try {
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
  } finally {
    model.dispose();
  }
  if (!artifacts?.weightSpecs || !artifacts.weightData) throw new Error('tfjs produced no weights');
  const weightData = artifacts.weightData;
  const bytes = Array.isArray(weightData) ? Buffer.concat(weightData.map((b) => new Uint8Array(b))) : new Uint8Array(weightData);
  const modelJson: ModelJson = {
    format: artifacts.format ?? 'layers-model',
    generatedBy: artifacts.generatedBy ?? 'TensorFlow.js',
    convertedBy: artifacts.convertedBy ?? null,
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs }],
  };
  const studentJson: TStudentJson = ZStudentJson.parse({
    format: STUDENT_FORMAT,
    version: STUDENT_VERSION,
    signature: student.signature,
    onnx: onnxSignature(student.signature),
    ...(student.architecture ? { architecture: student.architecture } : {}),
    ...(student.activationRanges ? { activationRanges: student.activationRanges } : {}),
    meta,
    training: { backend: student.backend, seconds: student.seconds, epochs: student.epochs, history: student.history },
  });
  await mkdir(dir, { recursive: true });
  const onnxFiles = studentOnnxFiles(student);
  const files = [join(dir, MODEL_JSON), join(dir, WEIGHTS_BIN), join(dir, STUDENT_JSON), ...onnxFiles.map((f) => join(dir, f.name))];
  await writeFile(files[0]!, JSON.stringify(modelJson));
  await writeFile(files[1]!, bytes);
  await writeFile(files[2]!, JSON.stringify(studentJson, null, 2));
  for (const f of onnxFiles) await writeFile(join(dir, f.name), f.bytes);
  return { files };
}

/**
 * Throws when `dir`'s ONNX files are not the graphs of `student` (loadStudent(dir)): a file missing,
 * or bytes other than studentOnnxFiles' for these weights (a student saved before the files existed,
 * a stale or edited graph). The graphs are a pure function of the weights, so this is a byte compare.
 * publishStudent asks it, so every registered archive runs outside cmbn and runs these weights.
 */
export async function checkStudentOnnxFiles(dir: string, student: TrainedStudent): Promise<void> {
  for (const f of studentOnnxFiles(student)) {
    const have = await readFile(join(dir, f.name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new Error(`${dir}: no ${f.name}; save the student again (cmbn's saveStudent writes it)`);
      throw err;
    });
    if (!Buffer.from(f.bytes).equals(have)) throw new Error(`${dir}: ${f.name} is not the graph of this student's weights; save the student again`);
  }
}

/** Reads the files directly (no tfjs needed): Dense kernels/biases in manifest order. */
export async function loadStudent(dir: string): Promise<TrainedStudent> {
  const sj = await readStudentJson(dir);
  const mj = JSON.parse(await readFile(join(dir, MODEL_JSON), 'utf8')) as ModelJson;
  const topology = mj.modelTopology as { config: { layers: { class_name: string; config: { name: string; activation?: string } }[] } };

  const weights = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const group of mj.weightsManifest) {
    const buffers = await Promise.all(group.paths.map((p) => readFile(join(dir, p))));
    const all = Buffer.concat(buffers);
    let offset = 0;
    for (const spec of group.weights) {
      if (spec.dtype !== 'float32' || spec.quantization) throw new Error(`unsupported weight ${spec.name} (${spec.dtype})`);
      const count = spec.shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(count);
      new Uint8Array(data.buffer).set(all.subarray(offset, offset + count * 4));
      weights.set(spec.name, { shape: spec.shape, data });
      offset += count * 4;
    }
  }
  // Manifest names are `<layer>/kernel` and `<layer>/bias`; take them in topology order.
  const specs = mj.weightsManifest.flatMap((g) => g.weights);
  const kernels = specs.filter((s) => s.name.endsWith('/kernel'));
  // The weighted layers in order, whatever their class (the architecture's head, e.g. conv's Conv2D,
  // then the Dense layers): those with a `<layer>/kernel` weight.
  const kernelNames = new Set(kernels.map((k) => k.name));
  const denseLayers = topology.config.layers.filter((l) => kernelNames.has(`${l.config.name}/kernel`));
  if (kernels.length !== denseLayers.length) throw new Error(`${dir}: ${kernels.length} kernels for ${denseLayers.length} Dense layers`);
  const layers: StudentLayer[] = kernels.map((k, l) => {
    const w = weights.get(k.name)!;
    const b = weights.get(k.name.replace(/\/kernel$/, '/bias'));
    if (!b) throw new Error(`${dir}: no bias for ${k.name}`);
    // A Conv2D kernel [k, k, 1, filters] is layer 0's k²×filters patch map in the same memory order.
    const outDim = w.shape.at(-1)!;
    return {
      weight: w.data,
      bias: b.data,
      inDim: w.data.length / outDim,
      outDim,
      activation: denseLayers[l]!.config.activation as LayerActivation,
    };
  });
  const architecture = sj.architecture ?? MLP;
  let first: FirstLayerInput;
  try {
    first = firstLayerInput(architecture, sj.signature.inputDims);
  } catch (err) {
    throw new Error(`${dir}: ${(err as Error).message}`);
  }
  if (layers[0]?.inDim !== first.inDim) {
    const per = first.inDim !== sj.signature.inputDims ? ` (${first.inDim} per position for a ${architecture.kind} student)` : '';
    throw new Error(`${dir}: model input ${layers[0]?.inDim} ≠ signature ${sj.signature.inputDims}${per}`);
  }
  if (layers.length <= leadingWidths(architecture).length) throw new Error(`${dir}: ${layers.length} weighted layers; a ${architecture.kind} student has its ${leadingWidths(architecture).length} leading ones and an output layer`);
  if (sj.activationRanges && sj.activationRanges.length !== layers.length) {
    throw new Error(`${dir}: ${sj.activationRanges.length} activation ranges for ${layers.length} layers`);
  }
  const training = { backend: sj.training.backend, seconds: sj.training.seconds, epochs: sj.training.epochs, history: sj.training.history };
  return {
    signature: sj.signature,
    ...(sj.architecture ? { architecture: sj.architecture } : {}),
    ...(sj.activationRanges ? { activationRanges: sj.activationRanges } : {}),
    ...training,
    layers,
  } as TrainedStudent;
}

export async function isStudentDir(dir: string): Promise<boolean> {
  try {
    await access(join(dir, MODEL_JSON));
    const sj = JSON.parse(await readFile(join(dir, STUDENT_JSON), 'utf8')) as { format?: unknown };
    return sj.format === STUDENT_FORMAT;
  } catch {
    return false;
  }
}

/** The `meta` object saved with the student (lineage, the embedding head's centroids, evaluation). */
export async function readStudentMeta(dir: string): Promise<Record<string, unknown>> {
  return (await readStudentJson(dir)).meta;
}
