import { clusteringSeconds, layerShape } from '@cmbn/mbn';

export interface EtaInput {
  /** Points and columns of the training data. */
  n: number;
  d: number;
  V: number;
  a: number;
  ks: number[];
  /** 1-based layer now running. */
  layer: number;
  shardsDone: number;
  shardsTotal: number;
  /** Seconds since the current layer started. */
  elapsedSeconds: number;
}

/**
 * Seconds until the top layer is done: the current layer at its observed rate, and each later layer
 * from the shard plan's cost model (shard-plan.ts) scaled by how fast this run's workers turned out
 * to be against it, so a faster (or GPU) pool shortens the later layers too. PCA and k-means after
 * the top layer are not included. null until a shard of the current layer has finished.
 */
export function mbnEtaSeconds(e: EtaInput): number | null {
  if (e.shardsDone <= 0 || e.shardsTotal <= 0 || e.elapsedSeconds <= 0) return null;
  const current = Math.max(0, ((e.shardsTotal - e.shardsDone) * e.elapsedSeconds) / e.shardsDone);
  const estimatedDone = (e.shardsDone / e.shardsTotal) * e.V * clusteringSeconds(layerShape(e.layer, e.n, e.d, e.V), e.ks[e.layer - 1]!, e.a);
  const observedPerEstimated = e.elapsedSeconds / estimatedDone;
  let later = 0;
  for (let l = e.layer + 1; l <= e.ks.length; l++) later += e.V * clusteringSeconds(layerShape(l, e.n, e.d, e.V), e.ks[l - 1]!, e.a);
  return current + later * observedPerEstimated;
}
