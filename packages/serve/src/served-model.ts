/**
 * One loaded student version: its signature, its verified identity, and predict() returning the
 * MLflow response body. The identity is sha256 of the directory packed by @cmbn/pipeline's
 * deterministic archive writer: the very bytes the registry records as `artifactSha256`, so a
 * pulled or cached directory is checked against the registry again at load time.
 */
import { createHash } from 'node:crypto';
import { DEFAULT_PREDICT_PRECISION, createStudentPredictor, loadStudent, readStudentMeta, type StudentInput, type StudentPrecision, type StudentPredictor, type StudentSignature } from '@cmbn/distill';
import { createStudentLabeler, headOfStudentMeta, packStudentDirectory, type StudentLabeler } from '@cmbn/pipeline';
import { ServeError } from './errors.ts';

export interface ServedVersion {
  /** Registry name and version; absent when serving a plain directory. */
  name?: string;
  version?: number;
  /** What was asked for: models:/…, or the directory. */
  source: string;
  artifactSha256: string;
  loadedAt: string;
  signature: StudentSignature;
  precision: StudentPrecision;
}

export interface PredictionBody {
  predictions: number[] | number[][];
  /** Embedding students with a k-means head: the cluster of each row. */
  labels?: number[];
  /** `?probabilities=true` on a labels student: per row, the softmax over classes. */
  probabilities?: number[][];
}

export interface LoadedModel {
  readonly info: ServedVersion;
  predict(x: StudentInput, opts?: { probabilities?: boolean }): Promise<PredictionBody>;
  dispose(): Promise<void>;
}

export interface LoadModelOptions {
  source: string;
  name?: string;
  version?: number;
  /** Refuse the directory unless it packs to these bytes (the registry's artifactSha256). */
  expectedSha256?: string;
  threads?: number;
  precision?: StudentPrecision;
}

export async function studentDirSha256(dir: string): Promise<string> {
  return createHash('sha256').update(await packStudentDirectory(dir)).digest('hex');
}

const rowsOf = (values: Float32Array, n: number, dim: number): number[][] => {
  const out = new Array<number[]>(n);
  for (let i = 0; i < n; i++) out[i] = Array.from(values.subarray(i * dim, (i + 1) * dim));
  return out;
};

function softmaxRows(logits: Float32Array, n: number, k: number): number[][] {
  const out = new Array<number[]>(n);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, logits[i * k + j]!);
    const row = new Array<number>(k);
    let z = 0;
    for (let j = 0; j < k; j++) z += row[j] = Math.exp(logits[i * k + j]! - max);
    for (let j = 0; j < k; j++) row[j] = Math.fround(row[j]! / z);
    out[i] = row;
  }
  return out;
}

export async function loadServedModel(dir: string, opts: LoadModelOptions): Promise<LoadedModel> {
  const sha = await studentDirSha256(dir);
  if (opts.expectedSha256 !== undefined && sha !== opts.expectedSha256) {
    const label = opts.name ? `${opts.name}:${opts.version}` : dir;
    throw new ServeError('ARTIFACT_MISMATCH', `refusing to serve ${label}: ${dir} packs to sha256 ${sha}, the registry recorded ${opts.expectedSha256}`);
  }
  const student = await loadStudent(dir);
  const meta = await readStudentMeta(dir);
  const head = headOfStudentMeta(meta, opts.name ? `${opts.name}:${opts.version}` : dir);
  const sig = student.signature;
  const precision = opts.precision ?? DEFAULT_PREDICT_PRECISION;
  const common = { ...(opts.threads !== undefined ? { threads: opts.threads } : {}), precision };
  const labeler: StudentLabeler | undefined = sig.output.kind === 'labels' || head ? await createStudentLabeler(student, { ...(head ? { head } : {}), ...common }) : undefined;
  const embedder: StudentPredictor | undefined = sig.output.kind === 'embedding' && !head ? await createStudentPredictor(student, common) : undefined;
  // The class probabilities need the logits, which the labels graph reduces to an ArgMax: a second
  // session of the same layers and precision whose output is the last layer (softmax taken here).
  const logits: StudentPredictor | undefined =
    sig.output.kind === 'labels' ? await createStudentPredictor({ ...student, signature: { ...sig, output: { kind: 'embedding', size: sig.output.size } } }, common) : undefined;
  const info: ServedVersion = {
    ...(opts.name !== undefined ? { name: opts.name } : {}),
    ...(opts.version !== undefined ? { version: opts.version } : {}),
    source: opts.source,
    artifactSha256: sha,
    loadedAt: new Date().toISOString(),
    signature: sig,
    precision,
  };
  const model: LoadedModel = {
    info,
    async predict(x, o = {}) {
      const dim = sig.output.size;
      if (o.probabilities && !logits) {
        throw new ServeError('NO_PROBABILITIES', 'probabilities=true needs a labels student; this one predicts an embedding');
      }
      if (embedder) return { predictions: rowsOf((await embedder.predict(x)).values!, x.rows, dim) };
      const [out, p] = await Promise.all([labeler!.predict(x), o.probabilities ? logits!.predict(x) : undefined]);
      const body: PredictionBody =
        sig.output.kind === 'labels' ? { predictions: Array.from(out.labels) } : { predictions: rowsOf(out.values!, x.rows, dim), labels: Array.from(out.labels) };
      if (p) body.probabilities = softmaxRows(p.values!, x.rows, dim);
      return body;
    },
    async dispose() {
      await Promise.all([labeler?.dispose(), embedder?.dispose(), logits?.dispose()]);
    },
  };
  // One row through every session before the model is offered to requests: a version that cannot
  // run fails here, while the previous one is still serving.
  const zero: StudentInput = { rows: 1, cols: sig.inputDims, dtype: sig.inputDType, data: sig.inputDType === 'uint8' ? new Uint8Array(sig.inputDims) : new Float32Array(sig.inputDims) };
  try {
    await model.predict(zero, { probabilities: logits !== undefined });
  } catch (err) {
    await model.dispose();
    throw err;
  }
  return model;
}
