/**
 * Run cancellation between the coordinator and the workers, through Redis (the one thing both
 * always reach): the coordinator sets the key (a worker checks it before starting a shard) and
 * publishes on the channel (a worker aborts the run's shards it is computing).
 */
export function cancelChannel(prefix: string): string {
  return `${prefix}:cmbn:cancel`;
}

export function cancelledKey(prefix: string, runId: string): string {
  return `${prefix}:cmbn:cancelled:${runId}`;
}

/** How long the cancelled marker outlives the cancel (queued shards are removed at once anyway). */
export const CANCELLED_KEY_TTL_SECONDS = 7 * 24 * 3600;
