import { Worker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { ArtifactStore } from '@cmbn/artifacts';
import { parsePayload, queueName, toBullmqError, type HandlersFor, type JobPayload } from '@cmbn/jobs';
import type { LayerProgress, Run } from '@cmbn/registry';
import { mbnEtaSeconds } from './eta.ts';
import type { ProgressBus } from './progress-bus.ts';
import { RateMeter } from './progress-bus.ts';
import type { Queues } from './queues.ts';
import { RunService, type SubmitRunInput, type SubmitRunResult } from './run-service.ts';
import { RunStateMachine } from './run-state.ts';

export type { SubmitRunInput } from './run-service.ts';

export interface OrchestratorOptions {
  /** Lock of the layer (assembly) jobs this coordinator processes. */
  lockDurationMs: number;
  stalledIntervalMs: number;
  /** Period of the safety net that re-checks every unfinished run against the queues. */
  reconcileIntervalMs: number;
  /** How long transient infrastructure errors are retried inside a step (CMBN_INFRA_RETRY_MS). */
  infraRetryMs?: number;
}

export const DEFAULT_INFRA_RETRY_MS = 120_000;

/**
 * The coordinator's orchestration, as the routes see it: a thin facade that wires the queues to
 * the parts that do the work.
 * - layer-planner.ts: which shards a layer has and the flow that queues them (pure);
 * - run-state.ts: the run state machine (advance on events and layer jobs, reconcile, per-run memory);
 * - run-service.ts: submission and cancellation, with the requests' validation.
 *
 * Restart safety: everything it knows is in Postgres (runs, layers, shards) or Redis (the flows),
 * and every step is idempotent, so `reconcileAll` can re-drive any unfinished run.
 */
export class Orchestrator {
  readonly shardRate = new RateMeter();
  private layerWorker: Worker | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly state: RunStateMachine;
  private readonly service: RunService;

  constructor(
    store: ArtifactStore,
    private readonly queues: Queues,
    bus: ProgressBus,
    private readonly log: Logger,
    private readonly opts: OrchestratorOptions,
  ) {
    this.state = new RunStateMachine({ store, queues, bus, log, shardRate: this.shardRate, infraRetryMs: opts.infraRetryMs ?? DEFAULT_INFRA_RETRY_MS });
    this.service = new RunService(this.state, queues, bus, log);
  }

  async start(): Promise<void> {
    const s = this.state;
    const bg = (what: string, fn: () => Promise<unknown>) => void s.background(what, fn);
    const { shardEvents, layerEvents, distillEvents } = this.queues;
    shardEvents.on('active', ({ jobId }) => bg('shard active', () => s.onShardActive(jobId)));
    shardEvents.on('completed', ({ jobId, returnvalue }) => bg('shard completed', () => s.onShardCompleted(jobId, returnvalue)));
    shardEvents.on('failed', ({ jobId, failedReason }) => bg('shard failed', () => s.onShardFailed(jobId, failedReason)));
    layerEvents.on('failed', ({ jobId, failedReason }) => bg('layer failed', () => s.onLayerFailed(jobId, failedReason)));
    distillEvents.on('completed', ({ jobId, returnvalue }) => bg('distill completed', () => s.distillStage.onCompleted(jobId, returnvalue)));
    distillEvents.on('failed', ({ jobId, failedReason }) => bg('distill failed', () => s.distillStage.onFailed(jobId, failedReason)));

    this.layerWorker = new Worker(
      queueName('layer'),
      async (job: Job) => {
        let payload: JobPayload<'layer'>;
        try {
          payload = parsePayload('layer', job.data);
        } catch (err) {
          throw toBullmqError(err, 'layer');
        }
        // The catalog's handler map for this runner (a kind added for the coordinator is a compile error here).
        const handlers: HandlersFor<'coordinator'> = { layer: (p) => s.runLayerJob(job, p.runId, p.layer) };
        try {
          return await handlers.layer(payload, { jobId: job.id!, attempt: job.attemptsMade + 1, log: (m) => this.log.info(m) });
        } catch (err) {
          throw toBullmqError(err, `layer ${payload.layer}`);
        }
      },
      {
        connection: this.queues.connection,
        prefix: this.queues.prefix,
        concurrency: 2,
        lockDuration: this.opts.lockDurationMs,
        stalledInterval: this.opts.stalledIntervalMs,
        maxStalledCount: 2,
      },
    );
    this.layerWorker.on('error', (err) => this.log.error({ err: err.message }, 'layer worker error'));
    await this.layerWorker.waitUntilReady();

    await this.reconcileAll();
    this.timer = setInterval(() => bg('reconcile', () => this.reconcileAll()), this.opts.reconcileIntervalMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.state.close();
    clearInterval(this.timer);
    await this.layerWorker?.close();
    await this.state.drain();
  }

  submitRun(input: SubmitRunInput): Promise<SubmitRunResult> {
    return this.service.submitRun(input);
  }

  cancelRun(runId: string): Promise<Run> {
    return this.service.cancelRun(runId);
  }

  reconcileAll(): Promise<void> {
    return this.state.reconcileAll();
  }

  /**
   * Seconds until the top layer is done (eta.ts), or null when not yet known. Takes the run and its
   * layers as the caller already read them (getRunProgress), so a progress poll costs no extra query.
   */
  async etaSeconds(run: Run, layers: readonly LayerProgress[]): Promise<number | null> {
    if (run.status !== 'RUNNING' || run.currentLayer < 1) return null;
    const layer = layers.find((l) => l.layer === run.currentLayer);
    if (!layer?.startedAt) return null;
    const c = await this.state.fixedOf(run);
    return mbnEtaSeconds({
      n: c.dataset.rows,
      d: c.dataset.cols,
      V: c.params.V,
      a: c.params.a,
      ks: c.ks,
      layer: layer.layer,
      shardsDone: layer.shardsDone,
      shardsTotal: layer.shardsTotal,
      elapsedSeconds: (Date.now() - layer.startedAt.getTime()) / 1000,
    });
  }

  /** Coordinator overhead of a run so far (seconds); undefined once it ended (its summary holds it). */
  coordinatorSeconds(runId: string): number | undefined {
    return this.state.coordinatorSeconds(runId);
  }

  /** Per-run entries held in memory (tests: all zero once every run has ended). */
  stateSize(): ReturnType<RunStateMachine['stateSize']> {
    return this.state.stateSize();
  }
}
