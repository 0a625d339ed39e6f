import type { z } from 'zod';

/** Which kind of process consumes a job kind. */
export type JobRunner = 'worker' | 'coordinator' | 'distiller';

export interface RetryPolicy {
  /** Total tries, the first included (BullMQ `attempts`). */
  attempts: number;
  backoff: { type: 'exponential' | 'fixed'; delay: number };
}

export interface JobDefinition<K extends string, R extends JobRunner, P extends z.ZodType, O extends z.ZodType> {
  kind: K;
  runsOn: R;
  payload: P;
  result: O;
  retry: RetryPolicy;
  /** One attempt running longer than this fails (and is retried per `retry`). Enforced by the consumer. */
  timeoutMs: number;
}

export function defineJob<K extends string, R extends JobRunner, P extends z.ZodType, O extends z.ZodType>(
  def: JobDefinition<K, R, P, O>,
): JobDefinition<K, R, P, O> {
  return def;
}
