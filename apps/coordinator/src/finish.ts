import type { ArtifactStore } from '@cmbn/artifacts';
import { encodeTeacherEmbedding, encodeTeacherLabels, type TTeacherRef } from '@cmbn/jobs';
import { denseInput, finishTrainingInThread, type LayerInput, type TMbnParams, type TrainProgress } from '@cmbn/mbn';
import { clusteringMetrics } from '@cmbn/metrics';
import { getDataset, getLayer, setRunStatus, type DatasetRecord, type JsonObject } from '@cmbn/registry';
import { loadCode, loadDatasetMatrix, loadLabels } from './layer-artifacts.ts';

export interface FinishRunInput {
  store: ArtifactStore;
  runId: string;
  params: TMbnParams;
  ks: number[];
  dataset: DatasetRecord;
  labelsId: string | null;
  startedAt: Date | null;
  coordinatorSeconds: number;
  onProgress: (p: TrainProgress) => void;
  /** Whether the run asked for a student: the run then goes DISTILLING and `queueDistillation` is called. */
  distill: boolean;
  /** Queues the distill job (called after the run is DISTILLING, so a fast job cannot finish first). */
  queueDistillation: (ref: { mbnModelSha256: string; modelHash: string; teacher: TTeacherRef }) => Promise<void>;
}

/**
 * After the top layer: PCA and k-means on the top code, and the model, through the same
 * `fitHead` and `completeModel` as the local trainer (on a worker thread, so the API stays
 * responsive), from the same layer inputs, so the model bytes (and modelHash) are identical to
 * `trainMbn`'s for the same data, params and seed.
 *
 * Memory: the inputs are read from the store only when the thread asks for them, one layer at a
 * time, and transferred to it, so this process never holds the data and every layer's code at once
 * (at MNIST 70k with V=400 that was ~450 MB, and as much again as the thread's copy).
 */
export async function finishRun(f: FinishRunInput): Promise<{ status: 'SUCCEEDED' | 'DISTILLING'; modelHash: string }> {
  const t0 = performance.now();
  const { store, runId, params, ks, dataset } = f;
  const n = dataset.rows;
  const code = async (l: number) => loadCode(store, (await getLayer(runId, l)).outputSha256!, n, params.V, ks[l - 1]!);
  // Layer l's input: the uploaded data for layer 1, else layer l − 1's code.
  const input = async (l: number): Promise<LayerInput> => (l === 1 ? denseInput(await loadDatasetMatrix(store, dataset.sha256, dataset.name)) : code(l - 1));
  const res = await finishTrainingInThread({ top: await code(ks.length), input }, params, ks, f.onProgress);
  const put = await store.put(res.modelBytes);
  let metrics: JsonObject | null = null;
  if (f.labelsId !== null) {
    const labels = await getDataset(f.labelsId);
    metrics = { ...clusteringMetrics(await loadLabels(store, labels.sha256, labels.name), res.labels) };
  }
  const finishedAt = Date.now();
  const mbnSeconds = f.startedAt ? (finishedAt - f.startedAt.getTime()) / 1000 : 0;
  const summary: JsonObject = {
    ks,
    mbnSeconds: Number(mbnSeconds.toFixed(3)),
    modelHash: res.modelHash,
    modelBytes: res.modelBytes.length,
    ...(metrics ?? {}),
    coordinatorSeconds: Number(f.coordinatorSeconds.toFixed(4)),
    finishSeconds: Number(((performance.now() - t0) / 1000).toFixed(3)),
  };
  // MBN's labels and embedding of the training points, for every run: the console's projector reads
  // them (GET /v1/runs/:id/embedding), and a distil job need not predict them again.
  const c = res.c;
  const [labelsPut, embeddingPut] = await Promise.all([store.put(encodeTeacherLabels(res.labels)), store.put(encodeTeacherEmbedding(res.embedding, n, c))]);
  const teacher: TTeacherRef = { labelsSha256: labelsPut.sha256, embeddingSha256: embeddingPut.sha256, rows: n, c };
  summary.mbnOutput = teacher as unknown as JsonObject;
  const status = f.distill ? 'DISTILLING' : 'SUCCEEDED';
  await setRunStatus(runId, status, { modelHash: res.modelHash, modelSha256: put.sha256, metrics, summary, mbnSeconds });
  if (f.distill) await f.queueDistillation({ mbnModelSha256: put.sha256, modelHash: res.modelHash, teacher });
  return { status, modelHash: res.modelHash };
}
