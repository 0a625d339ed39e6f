/** Small students with seeded weights for the serve tests and bench (shape, not quality, matters here). */
import { activationRanges, readStudentMeta, saveStudent, type StudentLayer, type TrainedStudent } from '@cmbn/distill';
import { centroidHead, isCentroidHead, type CentroidHead } from '@cmbn/pipeline';

function layer(inDim: number, outDim: number, seed: number, activation: StudentLayer['activation']): StudentLayer {
  // Weights of mixed sign and size ~1/sqrt(inDim), so that different inputs reach different classes.
  const w = Float32Array.from({ length: inDim * outDim }, (_, i) => Math.sin(seed * 12.9898 + i * 78.233) / Math.sqrt(inDim) * 2);
  const b = Float32Array.from({ length: outDim }, (_, i) => Math.cos(seed + i) / 10);
  return { weight: w, bias: b, inDim, outDim, activation };
}

const base = { backend: 'wasm' as const, seconds: 0, epochs: 1, history: { loss: [1], valLoss: [1] } };

/** uint8 pixels (784, MNIST-shaped) → hidden relu layers → `classes` labels. */
export function labelsStudent(seed: number, hidden: number[] = [32], inputDims = 784, classes = 10): TrainedStudent {
  const dims = [inputDims, ...hidden, classes];
  return {
    ...base,
    signature: { inputDims, inputDType: 'uint8', normalisation: { kind: 'scale', scale: 1 / 255 }, output: { kind: 'labels', size: classes } },
    layers: dims.slice(1).map((d, l) => layer(dims[l]!, d, seed * 10 + l, l === dims.length - 2 ? 'softmax' : 'relu')),
  };
}

/** float32 input → relu → a `dim`-dimensional embedding. */
export function embeddingStudent(seed: number, inputDims = 8, dim = 3): TrainedStudent {
  return {
    ...base,
    signature: { inputDims, inputDType: 'float32', normalisation: { kind: 'scale', scale: 1 }, output: { kind: 'embedding', size: dim } },
    layers: [layer(inputDims, 16, seed, 'relu'), layer(16, dim, seed + 1, 'linear')],
  };
}

/** Calibrated as trainStudent's students are (calibrate.ts), on 256 seeded rows standing in for training data. */
async function calibrated(s: TrainedStudent): Promise<TrainedStudent> {
  const n = 256;
  const d = s.signature.inputDims;
  const data = s.signature.inputDType === 'uint8' ? Uint8Array.from({ length: n * d }, (_, i) => (i * 97 + 31) % 256) : Float32Array.from({ length: n * d }, (_, i) => Math.sin(i * 0.37) * 2);
  s.activationRanges = await activationRanges(s, { rows: n, cols: d, dtype: s.signature.inputDType, data });
  return s;
}

export async function saveLabelsStudent(dir: string, seed: number, hidden?: number[]): Promise<TrainedStudent> {
  const s = await calibrated(labelsStudent(seed, hidden));
  await saveStudent(s, dir, { note: `serve test student ${seed}` });
  return s;
}

/** An embedding student with a 4-cluster k-means head in its meta, so it also yields labels. */
export async function saveEmbeddingStudent(dir: string, seed: number, withHead = true): Promise<TrainedStudent> {
  const s = await calibrated(embeddingStudent(seed));
  const c = Float64Array.from({ length: 4 * 3 }, (_, i) => Math.sin(i * 1.7 + seed));
  await saveStudent(s, dir, withHead ? { head: centroidHead(c, 4) } : {});
  return s;
}

export async function readStudentHead(dir: string): Promise<CentroidHead> {
  const head = (await readStudentMeta(dir)).head;
  if (!isCentroidHead(head)) throw new Error(`${dir} has no k-means head`);
  return head;
}
