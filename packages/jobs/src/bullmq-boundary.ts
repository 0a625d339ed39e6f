import { UnrecoverableError } from 'bullmq';
import { UnrecoverableJobError, classifyError, toJobError, type FailureKind } from './failure.ts';

/** BullMQ's own UnrecoverableError, with the failure kind and the original error kept for logs. */
export class HopelessJobError extends UnrecoverableError {
  constructor(
    message: string,
    readonly kind: FailureKind,
    options?: { cause?: unknown },
  ) {
    super(message);
    // UnrecoverableError sets name from the constructor; BullMQ also matches on the name
    // 'UnrecoverableError' (sandboxed processors' errors arrive serialised), so keep that one.
    this.name = 'UnrecoverableError';
    if (options?.cause !== undefined) this.cause = options.cause;
    // BullMQ records `stack` with the failed job: keep the frames of where the error was thrown.
    const origin = options?.cause instanceof Error ? options.cause.stack : undefined;
    if (origin !== undefined) this.stack = [`${this.name}: ${message}`, ...origin.split('\n').slice(1)].join('\n');
  }
}

/**
 * What a BullMQ processor throws for `err`: @cmbn/jobs decides (toJobError, the one retry
 * taxonomy) whether retrying can help; when it cannot, the error becomes an instance of BullMQ's
 * real UnrecoverableError, so the job fails on this attempt whatever BullMQ's check is
 * (`instanceof` or the name). toJobError gives UnrecoverableJobError, a look-alike by name
 * (failure.ts stays free of bullmq); this is the one place that turns it into the real class.
 * Retryable errors pass through unchanged and spend one of the job's attempts.
 */
export function toBullmqError(err: unknown, what?: string): Error {
  const e = toJobError(err, what);
  if (e instanceof UnrecoverableError) return e;
  if (e instanceof UnrecoverableJobError) return new HopelessJobError(e.message, e.kind, { cause: err });
  if (e.name === 'UnrecoverableError') return new HopelessJobError(e.message, classifyError(e), { cause: err });
  return e;
}
