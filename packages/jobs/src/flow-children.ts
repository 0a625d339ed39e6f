/**
 * The children of a flow parent that failed it, read through BullMQ's API rather than parsed from
 * the parent's failedReason text. With `failParentOnFailure` BullMQ records each such child's key
 * (`<prefix>:<queue>:<jobId>`) in the parent's `unsuccessful` set, which `Job.getDependencies({ failed })`
 * returns (bullmq 5). Structural type, so this package needs no bullmq dependency.
 */
export interface FlowParentLike {
  getDependencies(opts: { failed: { count: number } }): Promise<{ failed?: string[] }>;
}

/** Job ids of the parent's failed children in `queueKey` (`<prefix>:<queueName>`), oldest failure first. */
export async function failedChildren(parent: FlowParentLike, queueKey: string): Promise<string[]> {
  const deps = await parent.getDependencies({ failed: { count: 10_000 } });
  const keyPrefix = `${queueKey}:`;
  return (deps.failed ?? []).filter((k) => k.startsWith(keyPrefix)).map((k) => k.slice(keyPrefix.length));
}
