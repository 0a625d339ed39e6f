/**
 * The idempotency key of a model version that a run's distill job registers: one version per run,
 * however often the job runs (a retry finds the version of its first try). Written by
 * distilAndPublish (@cmbn/pipeline), read back by the coordinator's pending reconciler, which takes
 * a version with this key, and only such a version, to be its run's distill job's.
 */
export function runIdempotencyKey(runId: string): string {
  return `run:${runId}`;
}

/** The run whose distill job made a version with this key, or undefined for any other key (a local publish's). */
export function runOfIdempotencyKey(key: string | null | undefined): string | undefined {
  const m = /^run:(.+)$/.exec(key ?? '');
  return m?.[1];
}
