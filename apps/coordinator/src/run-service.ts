/**
 * Submission and cancellation: the requests' validation (AppError codes the API edge maps to HTTP
 * statuses) and the first step of a run's life. Everything after the first layer is queued belongs
 * to the run state machine.
 */
import type { Logger } from 'pino';
import { CANCELLED_KEY_TTL_SECONDS, cancelChannel, cancelledKey, distillJobId } from '@cmbn/jobs';
import { parseParams, resolveKs, smallVWarning } from '@cmbn/mbn';
import { cancelRun as cancelRunRecord, createRun, getDataset, getRun, type JsonObject, type Run } from '@cmbn/registry';
import { validateDistillRequest, type TDistillRequest } from './distill-stage.ts';
import { AppError } from './errors.ts';
import type { ProgressBus } from './progress-bus.ts';
import type { Queues } from './queues.ts';
import type { RunStateMachine } from './run-state.ts';

export interface SubmitRunInput {
  datasetId: string;
  labelsId?: string;
  params: unknown;
  shardSize?: number;
  /** Distil a student after MBN (issue 4). */
  distill?: TDistillRequest;
}

/** A submitted run, and what its submitter should be told about it (POST /v1/runs' `warnings`). */
export interface SubmitRunResult {
  run: Run;
  warnings: string[];
}

/**
 * The warnings of a run with these params and layer sizes: local training's small-V rule itself
 * (@cmbn/mbn smallVWarning), so `--remote` warns exactly when and as local training does.
 */
export function submitWarnings(V: number, ks: readonly number[]): string[] {
  const w = smallVWarning(V, ks.length);
  return w === null ? [] : [w];
}

export class RunService {
  constructor(
    private readonly state: RunStateMachine,
    private readonly queues: Queues,
    private readonly bus: ProgressBus,
    private readonly log: Logger,
  ) {}

  async submitRun(input: SubmitRunInput): Promise<SubmitRunResult> {
    const dataset = await getDataset(input.datasetId);
    if (dataset.labelsOf !== null) throw new AppError('BAD_REQUEST', `dataset ${input.datasetId} is a labels file, not a data matrix`);
    let labelsId: string | null = null;
    if (input.labelsId !== undefined) {
      const labels = await getDataset(input.labelsId);
      if (labels.labelsOf !== dataset.sha256) {
        throw new AppError('BAD_REQUEST', `labels ${input.labelsId} were not uploaded for dataset ${input.datasetId} (use ?labelsFor=${dataset.id})`);
      }
      labelsId = labels.id;
    }
    const params = parseParams(input.params);
    const ks = resolveKs(dataset.rows, params);
    if (input.distill) await validateDistillRequest(input.distill, dataset);
    const stored: JsonObject = { ...(params as unknown as JsonObject), ...(input.distill ? { distill: input.distill } : {}) };
    const run = await createRun({ datasetId: dataset.id, labelsId, params: stored, ks, seed: params.seed, shardSize: input.shardSize ?? null });
    const t0 = performance.now();
    await this.state.withRunLock(run.id, async () => this.state.startRun(await this.state.context(run.id)));
    this.state.addOverhead(run.id, (performance.now() - t0) / 1000);
    const warnings = submitWarnings(params.V, ks);
    this.log.info({ runId: run.id, datasetId: dataset.id, ks, shardSize: run.shardSize ?? 'auto', ...(warnings.length ? { warnings } : {}) }, 'run submitted');
    return { run: await getRun(run.id), warnings };
  }

  async cancelRun(runId: string): Promise<Run> {
    // Postgres decides, in one transaction holding the run's row lock: a run that has ended, or whose
    // student is already READY, is a CONFLICT; otherwise it becomes CANCELLED and its PENDING versions
    // FAILED. The Redis flag and the broadcast follow, so a refused cancel leaves no trace there.
    const cancelled = await cancelRunRecord(runId, 'cancelled by request');
    const { connection, prefix } = this.queues;
    await connection.set(cancelledKey(prefix, runId), '1', 'EX', CANCELLED_KEY_TTL_SECONDS);
    this.state.release(runId);
    await connection.publish(cancelChannel(prefix), runId);
    await this.state.removeQueuedShards(runId);
    await this.queues.distill.remove(distillJobId(runId)).catch(() => 0); // a running one finishes harmlessly: the run stays CANCELLED
    this.bus.emit(runId, { type: 'status', status: 'CANCELLED', error: cancelled.error });
    this.log.info({ runId }, 'run cancelled');
    return cancelled;
  }
}
