/**
 * The run page's per-layer table: shards done/total, seconds and rate, for finished layers from the
 * API's seconds, and for the running layer from the progress events seen so far (first and last
 * observation of its shard count). Pure, for Node tests.
 */
export interface LayerIn {
  layer: number;
  k: number;
  status: string;
  shardsDone: number;
  shardsTotal: number;
  seconds: number | null;
}

/** One observation of a layer's progress: when (ms) and how many shards were done. */
export interface Observation {
  t: number;
  done: number;
}

export interface LayerRow extends LayerIn {
  /** Wall seconds so far (running: since first observed). */
  elapsed: number | null;
  /** Clusterings per second (V clusterings per layer, spread evenly over its shards). */
  clusteringsPerSecond: number | null;
  shardsPerSecond: number | null;
}

export function layerRows(layers: LayerIn[], V: number, seen: Map<number, { first: Observation; last: Observation }>, now: number): LayerRow[] {
  return layers.map((l) => {
    if (l.seconds !== null && l.seconds > 0) {
      return { ...l, elapsed: l.seconds, clusteringsPerSecond: V / l.seconds, shardsPerSecond: l.shardsTotal / l.seconds };
    }
    const s = seen.get(l.layer);
    if (!s) return { ...l, elapsed: null, clusteringsPerSecond: null, shardsPerSecond: null };
    const dt = (s.last.t - s.first.t) / 1000;
    const shardsPerSecond = dt > 0 && s.last.done > s.first.done ? (s.last.done - s.first.done) / dt : null;
    return {
      ...l,
      elapsed: (now - s.first.t) / 1000,
      shardsPerSecond,
      clusteringsPerSecond: shardsPerSecond === null || l.shardsTotal === 0 ? null : (shardsPerSecond * V) / l.shardsTotal,
    };
  });
}
