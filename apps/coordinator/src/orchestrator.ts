import { Worker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { ArtifactStore } from '@cmbn/artifacts';
import { parsePayload, queueName, toBullmqError, type HandlersFor, type JobHandler, type JobPayload, type KindsOf } from '@cmbn/jobs';
import type { LayerProgress, Run } from '@cmbn/registry';
import { mbnEtaSeconds } from './eta.ts';
import type { ProgressBus } from './progress-bus.ts';
import { RateMeter } from './progress-bus.ts';
import type { Queues } from './queues.ts';
import { RunService, type SubmitRunInput, type SubmitRunResult } from './run-service.ts';
import type { CloseStep } from './close-steps.ts';
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

type CoordinatorKind = KindsOf<'coordinator'>;
/** Jobs of each kind one coordinator runs at once (two layers assemble side by side; one sweep); its keys are the kinds consumed. */
const CONCURRENCY: Record<CoordinatorKind, number> = { layer: 2, gc: 1 };
const COORDINATOR_KINDS = Object.keys(CONCURRENCY) as CoordinatorKind[];

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
  private workers: Worker[] = [];
  /** Jobs this coordinator is processing, by id (what a slow close waits on). */
  private readonly active = new Map<string, string>();
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

  /**
   * Consumes the coordinator's job kinds: the layer jobs (assembly, driven here) and `others`
   * (the gc sweep, gc-service.ts), each from its queue.
   */
  async start(others: Omit<HandlersFor<'coordinator'>, 'layer'>): Promise<void> {
    const s = this.state;
    const bg = (what: string, fn: () => Promise<unknown>) => void s.background(what, fn);
    const { shardEvents, layerEvents, distillEvents } = this.queues;
    shardEvents.on('active', ({ jobId }) => bg('shard active', () => s.onShardActive(jobId)));
    shardEvents.on('completed', ({ jobId, returnvalue }) => bg('shard completed', () => s.onShardCompleted(jobId, returnvalue)));
    shardEvents.on('failed', ({ jobId, failedReason }) => bg('shard failed', () => s.onShardFailed(jobId, failedReason)));
    layerEvents.on('failed', ({ jobId, failedReason }) => bg('layer failed', () => s.onLayerFailed(jobId, failedReason)));
    distillEvents.on('completed', ({ jobId, returnvalue }) => bg('distill completed', () => s.distillStage.onCompleted(jobId, returnvalue)));
    distillEvents.on('failed', ({ jobId, failedReason }) => bg('distill failed', () => s.distillStage.onFailed(jobId, failedReason)));

    // The catalog's handler map for this runner (a kind added for the coordinator is a compile error here).
    // (Built per job: the layer job's handler reads the job's flow children.)
    const handlersFor = (job: Job): HandlersFor<'coordinator'> => ({ layer: (p) => s.runLayerJob(job, p.runId, p.layer), ...others });
    this.workers = COORDINATOR_KINDS.map((kind) => this.consume(kind, handlersFor));
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));

    await this.reconcileAll();
    this.timer = setInterval(() => bg('reconcile', () => this.reconcileAll()), this.opts.reconcileIntervalMs);
    this.timer.unref();
  }

  /** One BullMQ worker for `kind`: the payload checked, the handler run, its error classified. */
  private consume<K extends CoordinatorKind>(kind: K, handlersFor: (job: Job) => HandlersFor<'coordinator'>): Worker {
    const w = new Worker(
      queueName(kind),
      async (job: Job) => {
        let payload: JobPayload<K>;
        try {
          payload = parsePayload(kind, job.data);
        } catch (err) {
          throw toBullmqError(err, kind);
        }
        const what = kind === 'layer' ? `layer ${(payload as JobPayload<'layer'>).layer}` : kind;
        this.active.set(job.id!, what);
        try {
          const handler = handlersFor(job)[kind] as JobHandler<K>;
          return await handler(payload, { jobId: job.id!, attempt: job.attemptsMade + 1, log: (m) => this.log.info(m) });
        } catch (err) {
          throw toBullmqError(err, what);
        } finally {
          this.active.delete(job.id!);
        }
      },
      {
        connection: this.queues.connection,
        prefix: this.queues.prefix,
        concurrency: CONCURRENCY[kind],
        lockDuration: this.opts.lockDurationMs,
        stalledInterval: this.opts.stalledIntervalMs,
        maxStalledCount: 2,
      },
    );
    w.on('error', (err) => this.log.error({ err: err.message }, `${kind} worker error`));
    return w;
  }

  /**
   * The orchestration's part of the coordinator's close, in order: stop taking jobs and wait for
   * the active ones (an assembly finishes), then wait for the run steps in flight (event handlers,
   * the reconciler) under their run locks. Each says what it waits on if it overruns (close-steps.ts).
   */
  closeSteps(): CloseStep[] {
    return [
      {
        name: 'coordinator job workers',
        run: async () => {
          this.state.close();
          clearInterval(this.timer);
          await Promise.all(this.workers.map((w) => w.close()));
        },
        waitingOn: () => ({ activeJobs: Object.fromEntries(this.active) }),
      },
      { name: 'run steps in flight', run: () => this.state.drain(), waitingOn: () => ({ lockedRuns: this.state.lockedRuns() }) },
    ];
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
