/**
 * Deterministic BullMQ job ids. Re-adding a job with an existing id is a no-op in BullMQ, so a
 * restarted coordinator can enqueue a layer again without duplicating finished work.
 * BullMQ refuses custom ids with ':' unless they have exactly three parts, hence the shapes below.
 */
export function shardJobId(runId: string, layer: number, index: number): string {
  assertRunId(runId);
  return `${runId}:${layer}:${index}`;
}

export function layerJobId(runId: string, layer: number): string {
  assertRunId(runId);
  return `${runId}:${layer}:layer`;
}

export function parseShardJobId(id: string): { runId: string; layer: number; index: number } | undefined {
  const m = /^([^:]+):(\d+):(\d+)$/.exec(id);
  return m ? { runId: m[1]!, layer: Number(m[2]), index: Number(m[3]) } : undefined;
}

export function parseLayerJobId(id: string): { runId: string; layer: number } | undefined {
  const m = /^([^:]+):(\d+):layer$/.exec(id);
  return m ? { runId: m[1]!, layer: Number(m[2]) } : undefined;
}

function assertRunId(runId: string): void {
  if (!/^[A-Za-z0-9_-]+$/.test(runId)) throw new Error(`run id ${JSON.stringify(runId)} must be [A-Za-z0-9_-]+`);
}

/** The one distill job of a run: re-adding it (coordinator restart, reconcile) is a no-op. */
export function distillJobId(runId: string): string {
  assertRunId(runId);
  return `${runId}:distill:1`;
}

export function parseDistillJobId(id: string): { runId: string } | undefined {
  const m = /^([^:]+):distill:1$/.exec(id);
  return m ? { runId: m[1]! } : undefined;
}

