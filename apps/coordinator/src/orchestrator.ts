import { Job, UnrecoverableError, Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { ArtifactStore } from '@cmbn/artifacts';
import {
  CANCELLED_KEY_TTL_SECONDS,
  cancelChannel,
  cancelledKey,
  decodeCodeNpy,
  distillJobId,
  encodeCodeNpy,
  jobOptions,
  layerJobId,
  parseLayerJobId,
  parsePayload,
  parseResult,
  parseShardJobId,
  queueName,
  shardJobId,
  type HandlersFor,
  type JobPayload,
  type JobResult,
  type TLayerInputRef,
} from '@cmbn/jobs';
import { assembleLayer, layerShape, parseParams, planLayerShards, resolveKs, type ShardSpec, type TMbnParams } from '@cmbn/mbn';
import {
  RegistryError,
  createLayer,
  createRun,
  getDataset,
  getLayer,
  getRun,
  listShards,
  listUnfinishedRuns,
  markShardDone,
  markShardFailed,
  markShardQueued,
  markShardRunning,
  setLayerStatus,
  setRunStatus,
  type DatasetRecord,
  type JsonObject,
  type LayerProgress,
  type Run,
  type Shard,
} from '@cmbn/registry';
import { DistillStage, splitRunParams, validateDistillRequest, type TDistillRequest } from './distill-stage.ts';
import { AppError } from './errors.ts';
import { mbnEtaSeconds } from './eta.ts';
import { finishRun } from './finish.ts';
import type { ProgressBus } from './progress-bus.ts';
import { RateMeter } from './progress-bus.ts';
import { jobWithState, type Queues } from './queues.ts';

export interface OrchestratorOptions {
  /** Lock of the layer (assembly) jobs this coordinator processes. */
  lockDurationMs: number;
  stalledIntervalMs: number;
  /** Period of the safety net that re-checks every unfinished run against the queues. */
  reconcileIntervalMs: number;
}

export interface SubmitRunInput {
  datasetId: string;
  labelsId?: string;
  params: unknown;
  shardSize?: number;
  /** Distil a student after MBN (issue 4). */
  distill?: TDistillRequest;
}

/** What the orchestrator needs to know of a run, parsed once. */
interface RunContext {
  run: Run;
  params: TMbnParams;
  ks: number[];
  dataset: DatasetRecord;
  /** The run's distill request, if any. */
  distill: TDistillRequest | null;
}

/**
 * Layer `layer`'s shard plan: the run's fixed shardSize, or each layer sized from its estimated
 * cost (@cmbn/mbn shard-plan.ts). A pure function of the run, so re-planning after a restart agrees.
 */
function layerShards(c: RunContext, layer: number): { v0: number; v1: number }[] {
  const shape = layerShape(layer, c.dataset.rows, c.dataset.cols, c.params.V);
  return planLayerShards(c.params.V, shape, c.ks[layer - 1]!, c.params.a, c.run.shardSize);
}

const INPUT_ERRORS = new Set(['ARTIFACT_CORRUPT', 'ARTIFACT_NOT_FOUND', 'BAD_CODE_ARTIFACT', 'BAD_DATA', 'INVALID_KEY']);

/**
 * Owns the runs: plans each layer's shards, queues them as a BullMQ flow (one `layer` parent per
 * layer, every shard child with failParentOnFailure), assembles a finished layer when its parent
 * becomes processable, starts the next layer, and finally builds the model.
 *
 * Restart safety: everything it knows is in Postgres (runs, layers, shards) or Redis (the flows).
 * Every step is idempotent (deterministic job ids, content-addressed artifacts, conditional DB
 * updates), so `reconcileRun` can re-drive any unfinished run from whatever state it finds.
 */
export class Orchestrator {
  readonly shardRate = new RateMeter();
  private layerWorker: Worker | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly ks = new Map<string, number[]>();
  private readonly fixed = new Map<string, Omit<RunContext, 'run'>>();
  /**
   * Coordinator overhead per run: the seconds workers wait on the coordinator (submission to the
   * first layer queued, then each layer's last shard to the next layer queued, or to the top
   * layer assembled). PCA and k-means of the application are reported separately.
   */
  private readonly overhead = new Map<string, number>();
  /** Worker clock of the last shard of a layer, by layer job id (from the shards' results). */
  private readonly lastShardAt = new Map<string, number>();
  private closed = false;
  private readonly distillStage: DistillStage;

  constructor(
    private readonly store: ArtifactStore,
    private readonly queues: Queues,
    private readonly bus: ProgressBus,
    private readonly log: Logger,
    private readonly opts: OrchestratorOptions,
  ) {
    this.distillStage = new DistillStage({
      queues,
      bus,
      log,
      withRunLock: (runId, fn) => this.withRunLock(runId, fn),
      failRun: (runId, error) => this.failRun(runId, error),
    });
  }

  private readonly handlers: HandlersFor<'coordinator'> = {
    layer: (p) => this.withRunLock(p.runId, () => this.advance(p.runId, p.layer)),
  };

  async start(): Promise<void> {
    const { shardEvents, layerEvents } = this.queues;
    shardEvents.on('active', ({ jobId }) => this.background('shard active', () => this.onShardActive(jobId)));
    shardEvents.on('completed', ({ jobId, returnvalue }) => this.background('shard completed', () => this.onShardCompleted(jobId, returnvalue)));
    shardEvents.on('failed', ({ jobId, failedReason }) => this.background('shard failed', () => this.onShardFailed(jobId, failedReason)));
    layerEvents.on('failed', ({ jobId, failedReason }) => this.background('layer failed', () => this.onLayerFailed(jobId, failedReason)));
    const { distillEvents } = this.queues;
    distillEvents.on('completed', ({ jobId, returnvalue }) => this.background('distill completed', () => this.distillStage.onCompleted(jobId, returnvalue)));
    distillEvents.on('failed', ({ jobId, failedReason }) => this.background('distill failed', () => this.distillStage.onFailed(jobId, failedReason)));

    this.layerWorker = new Worker(
      queueName('layer'),
      async (job: Job) => {
        let payload: JobPayload<'layer'>;
        try {
          payload = parsePayload('layer', job.data);
        } catch (err) {
          throw new UnrecoverableError((err as Error).message);
        }
        try {
          const finished = Object.values(await job.getChildrenValues()).map((v) => (v as { finishedAt?: number } | null)?.finishedAt ?? 0);
          if (finished.length > 0) this.lastShardAt.set(layerJobId(payload.runId, payload.layer), Math.max(...finished));
          return await this.handlers.layer(payload, { jobId: job.id!, attempt: job.attemptsMade + 1, log: (m) => this.log.info(m) });
        } catch (err) {
          const code = (err as { code?: unknown }).code;
          if (typeof code === 'string' && INPUT_ERRORS.has(code)) throw new UnrecoverableError((err as Error).message);
          throw err;
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
    this.timer = setInterval(() => this.background('reconcile', () => this.reconcileAll()), this.opts.reconcileIntervalMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.layerWorker?.close();
    await Promise.allSettled([...this.locks.values()]);
  }

  // ── submission ────────────────────────────────────────────────────────────────────────────

  async submitRun(input: SubmitRunInput): Promise<Run> {
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
    const shards = layerShards({ run, params, ks, dataset, distill: input.distill ?? null }, 1);
    await this.withRunLock(run.id, async () => {
      await createLayer({ runId: run.id, layer: 1, k: ks[0]!, inputSha256: dataset.sha256, shards });
      await setRunStatus(run.id, 'RUNNING');
      await this.enqueueLayer(run.id, 1);
    });
    this.addOverhead(run.id, t0);
    this.log.info({ runId: run.id, datasetId: dataset.id, ks, shardSize: run.shardSize ?? 'auto', layer1Shards: shards.length }, 'run submitted');
    return getRun(run.id);
  }

  async cancelRun(runId: string): Promise<Run> {
    const run = await getRun(runId);
    if (run.status === 'SUCCEEDED' || run.status === 'FAILED' || run.status === 'CANCELLED') {
      throw new AppError('CONFLICT', `run ${runId} is already ${run.status}`);
    }
    const { connection, prefix } = this.queues;
    await connection.set(cancelledKey(prefix, runId), '1', 'EX', CANCELLED_KEY_TTL_SECONDS);
    const cancelled = await setRunStatus(runId, 'CANCELLED', { error: 'cancelled by request' });
    await connection.publish(cancelChannel(prefix), runId);
    await this.removeQueuedShards(runId);
    await this.queues.distill.remove(distillJobId(runId)).catch(() => 0); // a running one finishes harmlessly: the run stays CANCELLED
    this.bus.emit(runId, { type: 'status', status: 'CANCELLED', error: cancelled.error });
    this.log.info({ runId }, 'run cancelled');
    return cancelled;
  }

  // ── the layer flow ────────────────────────────────────────────────────────────────────────

  private async context(runId: string): Promise<RunContext> {
    const run = await getRun(runId);
    return { run, ...(await this.fixedOf(run)) };
  }

  /** params, ks and the dataset of a run never change (only its status does), so they are read once. */
  private async fixedOf(run: Run): Promise<Omit<RunContext, 'run'>> {
    let fixed = this.fixed.get(run.id);
    if (!fixed) {
      const stored = splitRunParams(run.params);
      fixed = { params: parseParams(stored.mbn), distill: stored.distill, ks: run.ks as number[], dataset: await getDataset(run.datasetId) };
      this.fixed.set(run.id, fixed);
      this.ks.set(run.id, fixed.ks);
    }
    return fixed;
  }

  private spec(c: RunContext, layer: number, s: { v0: number; v1: number }): ShardSpec {
    return { layer, v0: s.v0, v1: s.v1, k: c.ks[layer - 1]!, seed: c.params.seed, a: c.params.a, kernel: c.params.kernel };
  }

  /** Adds (again) the layer's flow. Existing job ids are no-ops in BullMQ, finished shards stay finished. */
  private async enqueueLayer(runId: string, layer: number): Promise<void> {
    const t0 = performance.now();
    const c = await this.context(runId);
    const row = await getLayer(runId, layer);
    const shards = await listShards(runId, layer);
    const input: TLayerInputRef =
      layer === 1
        ? { kind: 'dense', sha256: c.dataset.sha256, rows: c.dataset.rows, cols: c.dataset.cols }
        : { kind: 'code', sha256: row.inputSha256, rows: c.dataset.rows, V: c.params.V, k: c.ks[layer - 2]! };
    await this.queues.flow.add({
      name: 'layer',
      queueName: queueName('layer'),
      data: { runId, layer } satisfies JobPayload<'layer'>,
      opts: { jobId: layerJobId(runId, layer), ...jobOptions('layer') },
      children: shards.map((s) => ({
        name: 'shard',
        queueName: queueName('shard'),
        data: { runId, layer, index: s.index, spec: this.spec(c, layer, s), input } satisfies JobPayload<'shard'>,
        // Without failParentOnFailure a failed shard would leave the layer waiting forever.
        opts: { jobId: shardJobId(runId, layer, s.index), ...jobOptions('shard'), failParentOnFailure: true },
      })),
    });
    // Bookkeeping only (workers already have the jobs): off the critical path between layers.
    const pending = shards.filter((s) => s.status === 'PENDING' || s.status === 'FAILED');
    this.background('mark shards queued', async () => {
      for (const s of pending) await markShardQueued(runId, layer, s.index);
    });
    this.bus.emit(runId, {
      type: 'progress',
      progress: { stage: 'layer', layer, layers: c.ks.length, k: c.ks[layer - 1]!, done: row.shardsDone, total: row.shardsTotal },
    });
    this.log.info({ runId, layer, shards: shards.length, ms: Math.round(performance.now() - t0) }, 'layer queued');
  }

  /**
   * The layer's shards are all done: assemble its code, then queue the next layer or finish the run.
   * Idempotent at every step, so a retried or re-driven call just carries on.
   */
  private async advance(runId: string, layer: number): Promise<JobResult<'layer'>> {
    const t0 = performance.now();
    this.log.debug({ runId, layer }, 'advance: start');
    const c = await this.context(runId);
    if (c.run.status !== 'RUNNING') return { skipped: `run is ${c.run.status}` };
    let row = await getLayer(runId, layer);
    if (row.status !== 'DONE') {
      const shards = await this.syncShards(runId, layer);
      const missing = shards.filter((s) => s.status !== 'DONE' || s.outputSha256 === null);
      if (missing.length > 0) throw new Error(`layer ${layer} of run ${runId}: shards ${missing.map((s) => s.index).join(', ')} have no output yet`);
      const n = c.dataset.rows;
      const blocks = await Promise.all(
        shards.map(async (s) => decodeCodeNpy(await this.store.get(s.outputSha256!), `shard ${s.index} of layer ${layer}`, { rows: n, cols: s.v1 - s.v0 }).ids),
      );
      const code = assembleLayer(n, c.params.V, c.ks[layer - 1]!, shards.map((s) => this.spec(c, layer, s)), blocks);
      const put = await this.store.put(encodeCodeNpy(code.ids, n, c.params.V));
      row = await setLayerStatus(runId, layer, 'DONE', put.sha256);
      this.log.info({ runId, layer, outputSha256: put.sha256, ms: Math.round(performance.now() - t0) }, 'layer assembled');
    }
    const lastShardAt = this.lastShardAt.get(layerJobId(runId, layer));
    this.lastShardAt.delete(layerJobId(runId, layer));
    const gap = () => {
      if (lastShardAt !== undefined) this.overhead.set(runId, (this.overhead.get(runId) ?? 0) + Math.max(0, Date.now() - lastShardAt) / 1000);
    };
    if (layer < c.ks.length) {
      await createLayer({ runId, layer: layer + 1, k: c.ks[layer]!, inputSha256: row.outputSha256!, shards: layerShards(c, layer + 1) });
      await this.enqueueLayer(runId, layer + 1);
      gap();
      return { outputSha256: row.outputSha256! };
    }
    gap();
    const done = await finishRun({
      store: this.store,
      runId,
      params: c.params,
      ks: c.ks,
      dataset: c.dataset,
      labelsId: c.run.labelsId,
      startedAt: c.run.startedAt,
      coordinatorSeconds: this.overhead.get(runId) ?? 0,
      onProgress: (progress) => this.bus.emit(runId, { type: 'progress', progress }),
      distill: c.distill !== null,
      queueDistillation: (ref) => this.distillStage.queue(c, ref),
    });
    this.bus.emit(runId, { type: 'status', status: done.status, modelHash: done.modelHash });
    this.log.info({ runId, modelHash: done.modelHash, status: done.status }, 'run finished');
    await this.cleanupJobs(runId, c.ks.length);
    return { outputSha256: row.outputSha256!, modelSha256: done.modelHash };
  }

  /** Brings DB shard state up to date with Redis (events missed while the coordinator was down). */
  private async syncShards(runId: string, layer: number): Promise<Shard[]> {
    const shards = await listShards(runId, layer);
    let changed = false;
    for (const s of shards) {
      if (s.status === 'DONE') continue;
      const job = await Job.fromId(this.queues.shard, shardJobId(runId, layer, s.index));
      if (job && job.finishedOn && !job.failedReason && job.returnvalue) {
        const r = parseResult('shard', job.returnvalue);
        const done = await markShardDone(runId, layer, s.index, { outputSha256: r.sha256, seconds: r.seconds, workerId: r.workerId });
        if (done.first) this.shardRate.mark();
        changed = true;
      }
    }
    return changed ? listShards(runId, layer) : shards;
  }

  // ── events from the queues ────────────────────────────────────────────────────────────────

  private async onShardActive(jobId: string): Promise<void> {
    const id = parseShardJobId(jobId);
    if (!id) return;
    const job = await Job.fromId(this.queues.shard, jobId);
    await markShardRunning(id.runId, id.layer, id.index, job?.processedBy ?? 'unknown');
  }

  private async onShardCompleted(jobId: string, returnvalue: unknown): Promise<void> {
    const id = parseShardJobId(jobId);
    if (!id) return;
    const r = parseResult('shard', typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue);
    const done = await markShardDone(id.runId, id.layer, id.index, { outputSha256: r.sha256, seconds: r.seconds, workerId: r.workerId });
    if (!done.first) return;
    this.shardRate.mark();
    const ks = this.ks.get(id.runId) ?? (await getRun(id.runId)).ks as number[];
    this.ks.set(id.runId, ks);
    this.bus.emit(id.runId, {
      type: 'progress',
      progress: { stage: 'layer', layer: id.layer, layers: ks.length, k: ks[id.layer - 1]!, done: done.shardsDone, total: done.shardsTotal },
    });
  }

  /** BullMQ emits `failed` on the queue only when a job fails for good (retries exhausted or unrecoverable). */
  private async onShardFailed(jobId: string, reason: string): Promise<void> {
    const id = parseShardJobId(jobId);
    if (!id) return;
    await markShardFailed(id.runId, id.layer, id.index, reason);
    const s = (await listShards(id.runId, id.layer)).find((x) => x.index === id.index);
    const range = s ? ` (clusterings ${s.v0}..${s.v1 - 1})` : '';
    await this.failRun(id.runId, `shard ${id.index} of layer ${id.layer}${range} failed permanently: ${reason}`);
  }

  private async onLayerFailed(jobId: string, reason: string): Promise<void> {
    const id = parseLayerJobId(jobId);
    if (!id) return;
    let message = `layer ${id.layer} failed: ${reason}`;
    const child = /^child (\S+) failed$/.exec(reason)?.[1];
    if (child) {
      const childId = child.split(':').slice(-3).join(':');
      const job = await Job.fromId(this.queues.shard, childId);
      const sid = parseShardJobId(childId);
      if (job?.failedReason && sid) message = `shard ${sid.index} of layer ${sid.layer} failed permanently: ${job.failedReason}`;
    }
    await this.failRun(id.runId, message);
  }

  private async failRun(runId: string, error: string): Promise<void> {
    try {
      await setRunStatus(runId, 'FAILED', { error });
    } catch (err) {
      if (err instanceof RegistryError && (err.code === 'CONFLICT' || err.code === 'NOT_FOUND')) return; // already ended
      throw err;
    }
    this.log.error({ runId, error }, 'run failed');
    this.bus.emit(runId, { type: 'status', status: 'FAILED', error });
    await this.removeQueuedShards(runId);
  }

  /** Queued (not running) shards of an ended run are removed; running ones are aborted by their workers or finish harmlessly. */
  private async removeQueuedShards(runId: string): Promise<void> {
    const run = await getRun(runId);
    if (run.currentLayer < 1) return;
    const shards = await listShards(runId, run.currentLayer, { status: ['PENDING', 'QUEUED', 'RUNNING', 'FAILED'] });
    for (const s of shards) {
      try {
        await this.queues.shard.remove(shardJobId(runId, run.currentLayer, s.index));
      } catch {
        // Locked by a worker: it is aborted (cancel) or fails/finishes on its own.
      }
    }
  }

  /** A finished run's jobs are dropped from Redis (its results live in Postgres and the store). */
  private async cleanupJobs(runId: string, layers: number): Promise<void> {
    for (let l = 1; l <= layers; l++) {
      try {
        const job = await Job.fromId(this.queues.layer, layerJobId(runId, l));
        if (job && (await job.getState()) !== 'active') await this.queues.layer.remove(job.id!, { removeChildren: true });
      } catch (err) {
        this.log.debug({ runId, layer: l, err: (err as Error).message }, 'cleanup skipped');
      }
    }
  }

  // ── restart safety ────────────────────────────────────────────────────────────────────────

  async reconcileAll(): Promise<void> {
    for (const run of await listUnfinishedRuns()) {
      if (this.closed) return;
      await this.withRunLock(run.id, () => this.reconcileRun(run.id)).catch((err: unknown) =>
        this.log.error({ runId: run.id, err: (err as Error).message }, 'reconcile failed'),
      );
    }
  }

  /** Re-drives one run from the state in Postgres and Redis; safe to call at any time. */
  private async reconcileRun(runId: string): Promise<void> {
    const c = await this.context(runId);
    if (c.run.status === 'QUEUED') {
      // Created, but the coordinator stopped before the first layer was queued.
      const planned = await getLayer(runId, 1).catch(() => undefined);
      if (!planned) {
        await createLayer({ runId, layer: 1, k: c.ks[0]!, inputSha256: c.dataset.sha256, shards: layerShards(c, 1) });
      }
      await setRunStatus(runId, 'RUNNING');
      await this.enqueueLayer(runId, 1);
      return;
    }
    if (c.run.status === 'DISTILLING') return this.distillStage.reconcile(c);
    if (c.run.status !== 'RUNNING' || c.run.currentLayer < 1) return;
    const layer = c.run.currentLayer;
    const row = await getLayer(runId, layer);
    if (row.status === 'DONE') {
      // Stopped between assembling the layer and queueing the next one (or finishing).
      await this.advance(runId, layer);
      return;
    }
    const found = await jobWithState(this.queues.layer, layerJobId(runId, layer));
    if (!found) {
      this.log.warn({ runId, layer }, 'layer flow missing from Redis: queueing it again');
      await this.enqueueLayer(runId, layer);
      return;
    }
    const { job, state } = found;
    if (state === 'failed') await this.onLayerFailed(job.id!, job.failedReason);
    else if (state === 'completed') await this.advance(runId, layer);
    else if (row.shardsDone < row.shardsTotal) await this.syncShards(runId, layer);
  }

  // ── helpers ───────────────────────────────────────────────────────────────────────────────

  /** Serialises the steps of one run inside this process (events, the layer job and the reconciler). */
  private withRunLock<T>(runId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(runId) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(fn);
    this.locks.set(runId, next);
    void next.finally(() => {
      if (this.locks.get(runId) === next) this.locks.delete(runId);
    }).catch(() => {});
    return next;
  }

  private background(what: string, fn: () => Promise<unknown>): void {
    fn().catch((err: unknown) => this.log.error({ err: (err as Error).message }, `${what}: handler failed`));
  }

  private addOverhead(runId: string, t0: number): void {
    this.overhead.set(runId, (this.overhead.get(runId) ?? 0) + (performance.now() - t0) / 1000);
  }

  /**
   * Seconds until the top layer is done (eta.ts), or null when not yet known. Takes the run and its
   * layers as the caller already read them (getRunProgress), so a progress poll costs no extra query.
   */
  async etaSeconds(run: Run, layers: readonly LayerProgress[]): Promise<number | null> {
    if (run.status !== 'RUNNING' || run.currentLayer < 1) return null;
    const layer = layers.find((l) => l.layer === run.currentLayer);
    if (!layer?.startedAt) return null;
    const c = await this.fixedOf(run);
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

  coordinatorSeconds(runId: string): number | undefined {
    return this.overhead.get(runId);
  }
}
