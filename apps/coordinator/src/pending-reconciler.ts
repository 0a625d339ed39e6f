/**
 * No stuck versions (MLflow's versions stuck in PENDING_REGISTRATION): a model version stays
 * PENDING from its registration until its producer marks it READY or FAILED. A producer that dies
 * in between (a worker SIGKILLed after registering, a job removed) leaves it PENDING for ever, and
 * a PENDING version also holds back the artifact sweep (@cmbn/registry gc-lock.ts). This
 * reconciler fails such a version, but only once the job that produced it is neither active nor
 * waiting (nor delayed for a retry) in its queue: a slow producer is never failed under its feet.
 * The producer's retry then registers a fresh version (createModelVersion releases a FAILED
 * version's idempotency key).
 *
 * Producers: a coordinator run's distill job (idempotency key `run:<runId>`, job distillJobId).
 * A version with no job (the CLI's local `train --distill --register`) is failed only after
 * localMaxAgeMs. Each tick also finishes interrupted artifact deletions.
 */
import type { Logger } from 'pino';
import { distillJobId } from '@cmbn/jobs';
import { drainArtifactDeletions, listPendingVersions, markVersionFailed, RegistryError, runOfIdempotencyKey, type GcStore, type ModelVersionRecord } from '@cmbn/registry';
import { ZCoordinatorEnv } from './env.ts';
import type { Queues } from './queues.ts';

/** Job states in which the producer may still finish its version. */
const ALIVE = new Set(['active', 'waiting', 'delayed', 'prioritized', 'waiting-children']);

export interface PendingReconcilerOptions {
  queues: Pick<Queues, 'distill' | 'connection'>;
  store: GcStore;
  logger: Logger;
  /** CMBN_PENDING_RECONCILE_MS (env.ts, whose default applies when absent). */
  intervalMs?: number;
  /** CMBN_PENDING_LOCAL_MAX_AGE_MS (env.ts, whose default applies when absent). */
  localMaxAgeMs?: number;
  /** Versions younger than this are left alone (a producer between registering and its first step). Default 10 s. */
  minAgeMs?: number;
}

export interface ReconcileOutcome {
  failed: { name: string; version: number; reason: string }[];
  alive: number;
}

/**
 * The queue job that produced a version, if it came from one: only the distill job's own
 * idempotency key (`run:<id>`) says so. A version's runId alone does not: a local publish of a
 * run's student, or another producer, names the run too, and the run's distill job (alive or not)
 * would then decide that version's fate.
 */
export function producerJobId(v: Pick<ModelVersionRecord, 'idempotencyKey'>): string | undefined {
  const runId = runOfIdempotencyKey(v.idempotencyKey);
  return runId === undefined ? undefined : distillJobId(runId);
}

export class PendingReconciler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** Passes finished since start (failed ones included). */
  passes = 0;
  private readonly intervalMs: number;
  private readonly localMaxAgeMs: number;
  private readonly minAgeMs: number;

  constructor(private readonly o: PendingReconcilerOptions) {
    // The defaults are the environment schema's, so the rule lives in one place; the caller
    // (startCoordinator) passes the values main.ts read from the environment.
    this.intervalMs = o.intervalMs ?? ZCoordinatorEnv.shape.CMBN_PENDING_RECONCILE_MS.parse(undefined);
    this.localMaxAgeMs = o.localMaxAgeMs ?? ZCoordinatorEnv.shape.CMBN_PENDING_LOCAL_MAX_AGE_MS.parse(undefined);
    this.minAgeMs = o.minAgeMs ?? 10_000;
  }

  /** One pass over every PENDING version. */
  async reconcileOnce(now = Date.now()): Promise<ReconcileOutcome> {
    const out: ReconcileOutcome = { failed: [], alive: 0 };
    for (const v of await listPendingVersions()) {
      const age = now - v.createdAt.getTime();
      if (age < this.minAgeMs) continue;
      const jobId = producerJobId(v);
      let reason: string;
      if (jobId === undefined) {
        if (age < this.localMaxAgeMs) continue;
        reason = `PENDING for ${Math.round(age / 1000)} s with no producing job (CMBN_PENDING_LOCAL_MAX_AGE_MS)`;
      } else {
        const state = await this.o.queues.distill.getJobState(jobId);
        if (ALIVE.has(state)) {
          out.alive++;
          continue;
        }
        reason = `its producing job ${jobId} is ${state === 'unknown' ? 'gone from the queue' : state} and never finished the version`;
      }
      try {
        await markVersionFailed(v.id, `pending reconciler: ${reason}`);
        out.failed.push({ name: v.modelName, version: v.version, reason });
        this.o.logger.warn({ name: v.modelName, version: v.version, jobId, reason }, 'failed a stuck PENDING version');
      } catch (err) {
        // Its producer finished it in the meantime (READY is immutable, FAILED is final): nothing to do.
        if (!(err instanceof RegistryError)) throw err;
      }
    }
    return out;
  }

  private async tick(): Promise<void> {
    // The coordinator stops this loop before it closes the queues (stop()); this is a last guard.
    if (this.o.queues.connection.status === 'end') return;
    if (this.o.queues.connection.status !== 'ready') return; // Redis down: job states cannot be read
    await this.reconcileOnce();
    const drained = await drainArtifactDeletions(this.o.store);
    if (drained.deleted.length > 0) this.o.logger.info({ deleted: drained.deleted.length, deferred: drained.deferred }, 'finished interrupted artifact deletions');
  }

  /** One pass now, or the pass already running (never two at once); a failed pass is logged, not thrown. */
  runPass(): Promise<void> {
    this.running ??= this.tick()
      .catch((err: unknown) => this.o.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'pending reconciler pass failed (retrying next interval)'))
      .finally(() => {
        this.running = undefined;
        this.passes++;
      });
    return this.running;
  }

  start(): this {
    this.timer ??= setInterval(() => void this.runPass(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  /** True while started or while a pass is still running. */
  get active(): boolean {
    return this.timer !== undefined || this.running !== undefined;
  }

  /**
   * Stops the loop and waits for a pass in flight: the coordinator closes the queues and the
   * database only after this, so no pass reads a closed connection (or, through getDb(), opens a
   * new Prisma client after closeDb()).
   */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}

export function startPendingReconciler(o: PendingReconcilerOptions): PendingReconciler {
  return new PendingReconciler(o).start();
}
