import type { ArtifactStore } from '@cmbn/artifacts';
import { parseLabels, parseMatrix } from '@cmbn/data';
import { decodeCodeNpy } from '@cmbn/jobs';
import type { CodeInput, TrainMatrix } from '@cmbn/mbn';

/** The uploaded dataset as the trainer's matrix (the same parse the workers use). */
export async function loadDatasetMatrix(store: ArtifactStore, sha256: string, name: string): Promise<TrainMatrix> {
  return parseMatrix(await store.get(sha256), name);
}

export async function loadLabels(store: ArtifactStore, sha256: string, name: string): Promise<Int32Array> {
  return parseLabels(await store.get(sha256), name);
}

/** A layer's assembled code (n × V uint16 .npy) as the next layer's input. */
export async function loadCode(store: ArtifactStore, sha256: string, n: number, V: number, k: number): Promise<CodeInput> {
  const c = decodeCodeNpy(await store.get(sha256), `layer code ${sha256}`, { rows: n, cols: V });
  return { kind: 'code', n, V, k, ids: c.ids };
}
