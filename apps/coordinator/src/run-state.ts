/**
 * The run state machine: drives each run from its state in Postgres (runs, layers, shards) and
 * Redis (the flows). Queue events and the layer job move a run forward (`advance`); the reconciler
 * re-derives the next step from whatever it finds (`reconcileRun`). Every step is idempotent
 * (deterministic job ids, content-addressed artifacts, conditional DB updates), so any step can be
 * repeated: after a coordinator restart, a missed event, or a transient infrastructure error.
 *
 * Transient infrastructure errors (a restarting Postgres, Redis or store) are retried inside the
 * step with backoff for `infraRetryMs` (`withInfraRetry`), not through BullMQ attempts: see
 * `runLayerJob`.
 */
import { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { ArtifactStore } from '@cmbn/artifacts';
import {
  decodeCodeNpy,
  encodeCodeNpy,
  failedChildren,
  layerJobId,
  parseLayerJobId,
  parseResult,
  parseShardJobId,
  queueName,
  shardJobId,
  withInfraRetry,
  type JobResult,
} from '@cmbn/jobs';
import { assembleLayer, parseParams } from '@cmbn/mbn';
import {
  RegistryError,
  createLayer,
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
  type Run,
  type RunStatus,
  type Shard,
} from '@cmbn/registry';
import { DistillStage, splitRunParams, type TDistillRequest } from './distill-stage.ts';
import { finishRun } from './finish.ts';
import { layerFlow, layerShards, shardSpec, type RunPlan } from './layer-planner.ts';
import type { ProgressBus, RateMeter } from './progress-bus.ts';
import { jobWithState, type Queues } from './queues.ts';
import { ShardBlocks } from './shard-blocks.ts';

/** What the state machine knows of a run: the row, plus its fixed facts, parsed once. */
export interface RunContext extends RunPlan {
  run: Run;
  dataset: DatasetRecord;
  /** The run's distill request, if any. */
  distill: TDistillRequest | null;
}

type Fixed = Omit<RunContext, 'run'>;

export interface RunStateDeps {
  store: ArtifactStore;
  queues: Queues;
  bus: ProgressBus;
  log: Logger;
  shardRate: RateMeter;
  /** Budget of in-step retries of transient infrastructure errors (CMBN_INFRA_RETRY_MS). */
  infraRetryMs: number;
}

const ACTIVE: readonly RunStatus[] = ['QUEUED', 'RUNNING', 'DISTILLING'];

export class RunStateMachine {
  /** Fixed facts of active runs (params, ks, dataset): read once per run, dropped when it ends. */
  private readonly fixed = new Map<string, Fixed>();
  /**
   * Coordinator overhead per run: the seconds workers wait on the coordinator (submission to the
   * first layer queued, then each layer's last shard to the next layer queued, or to the top layer
   * assembled). PCA and k-means of the application are reported separately.
   */
  private readonly overhead = new Map<string, number>();
  /** Worker clock of the last shard of each layer (from the shards' results), by run then layer. */
  private readonly lastShardAt = new Map<string, Map<number, number>>();
  private readonly locks = new Map<string, Promise<unknown>>();
  /** Completed shards' outputs, fetched ahead of their layer's assembly. */
  private readonly blocks: ShardBlocks;
  readonly distillStage: DistillStage;
  /** Aborted by close(): in-step infra retries stop waiting (a closed registry must not be reopened). */
  private readonly stopping = new AbortController();

  constructor(private readonly d: RunStateDeps) {
    this.blocks = new ShardBlocks(d.store);
    this.distillStage = new DistillStage({
      queues: d.queues,
      bus: d.bus,
      log: d.log,
      withRunLock: (runId, fn) => this.withRunLock(runId, fn),
      failRun: (runId, error) => this.failRun(runId, error),
      ended: (runId) => this.release(runId),
    });
  }

  get closed(): boolean {
    return this.stopping.signal.aborted;
  }

  close(): void {
    this.stopping.abort();
  }

  /** Waits for the steps in progress (under run locks) to end. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.locks.values()]);
  }

  /** Runs with a step in progress or queued under their lock (what drain() waits on). */
  lockedRuns(): string[] {
    return [...this.locks.keys()];
  }

  // ── per-run memory ────────────────────────────────────────────────────────────────────────

  /** Entries held per map, for tests: all zero once every run has ended and its steps are done. */
  stateSize(): { fixed: number; overhead: number; lastShardAt: number; locks: number; blocks: number } {
    return { fixed: this.fixed.size, overhead: this.overhead.size, lastShardAt: this.lastShardAt.size, locks: this.locks.size, blocks: this.blocks.size };
  }

  /** Forgets an ended run (succeeded, failed, cancelled). Its results live in Postgres. */
  release(runId: string): void {
    this.fixed.delete(runId);
    this.overhead.delete(runId);
    this.lastShardAt.delete(runId);
    this.blocks.dropRun(runId);
  }

  coordinatorSeconds(runId: string): number | undefined {
    return this.overhead.get(runId);
  }

  addOverhead(runId: string, seconds: number): void {
    this.overhead.set(runId, (this.overhead.get(runId) ?? 0) + seconds);
  }

  async context(runId: string): Promise<RunContext> {
    const run = await getRun(runId);
    return { run, ...(await this.fixedOf(run)) };
  }

  /** params, ks and the dataset of a run never change (only its status does): cached while it is active. */
  async fixedOf(run: Run): Promise<Fixed> {
    const cached = this.fixed.get(run.id);
    if (cached) return cached;
    const stored = splitRunParams(run.params);
    const f: Fixed = {
      params: parseParams(stored.mbn),
      distill: stored.distill,
      ks: run.ks as number[],
      dataset: await getDataset(run.datasetId),
      shardSize: run.shardSize,
    };
    // A late event of an ended run must not bring it back into memory.
    if (ACTIVE.includes(run.status)) this.fixed.set(run.id, f);
    return f;
  }

  // ── the layer flow ────────────────────────────────────────────────────────────────────────

  /** Plans and queues layer 1 of a new run (QUEUED → RUNNING). */
  async startRun(c: RunContext): Promise<void> {
    const planned = await getLayer(c.run.id, 1).catch(() => undefined);
    if (!planned) await createLayer({ runId: c.run.id, layer: 1, k: c.ks[0]!, inputSha256: c.dataset.sha256, shards: layerShards(c, 1) });
    await setRunStatus(c.run.id, 'RUNNING');
    await this.enqueueLayer(c.run.id, 1);
  }

  /** Adds (again) the layer's flow. Existing job ids are no-ops in BullMQ, finished shards stay finished. */
  async enqueueLayer(runId: string, layer: number): Promise<void> {
    const t0 = performance.now();
    const c = await this.context(runId);
    const row = await getLayer(runId, layer);
    const shards = await listShards(runId, layer);
    await this.d.queues.flow.add(layerFlow(runId, c, layer, shards, row.inputSha256));
    // Bookkeeping only (workers already have the jobs): off the critical path between layers.
    const pending = shards.filter((s) => s.status === 'PENDING' || s.status === 'FAILED');
    this.background('mark shards queued', async () => {
      for (const s of pending) await markShardQueued(runId, layer, s.index);
    });
    this.d.bus.emit(runId, {
      type: 'progress',
      progress: { stage: 'layer', layer, layers: c.ks.length, k: c.ks[layer - 1]!, done: row.shardsDone, total: row.shardsTotal },
    });
    this.d.log.info({ runId, layer, shards: shards.length, ms: Math.round(performance.now() - t0) }, 'layer queued');
  }

  /**
   * The `layer` job's processor: its shards are all done, so assemble and go on.
   *
   * Transient infrastructure errors are retried here, inside the processor, for `infraRetryMs`
   * rather than by BullMQ: the job stays active (BullMQ keeps renewing its lock while Redis is up;
   * when Redis is the one away, the lock commands wait in ioredis's offline queue), no attempt is
   * used up, and the idempotent `advance` restarts from the state in Postgres. Re-queueing with
   * `moveToDelayed` would also keep the attempt but needs the job's token and a DelayedError
   * round trip through Redis for every retry, which is the service that may be down.
   */
  async runLayerJob(job: Job, runId: string, layer: number): Promise<JobResult<'layer'>> {
    const finished = Object.values(await job.getChildrenValues()).map((v) => (v as { finishedAt?: number } | null)?.finishedAt ?? 0);
    if (finished.length > 0) {
      const byLayer = this.lastShardAt.get(runId) ?? new Map<number, number>();
      byLayer.set(layer, Math.max(...finished));
      this.lastShardAt.set(runId, byLayer);
    }
    return this.withRunLock(runId, () => this.infra(`layer ${layer} of run ${runId}`, () => this.advance(runId, layer)));
  }

  /**
   * The layer's shards are all done: assemble its code, then queue the next layer or finish the run.
   * Idempotent at every step, so a retried or re-driven call just carries on.
   */
  async advance(runId: string, layer: number): Promise<JobResult<'layer'>> {
    const t0 = performance.now();
    const c = await this.context(runId);
    if (c.run.status !== 'RUNNING') {
      if (!ACTIVE.includes(c.run.status)) this.release(runId);
      return { skipped: `run is ${c.run.status}` };
    }
    let row = await getLayer(runId, layer);
    if (row.status !== 'DONE') {
      const shards = await this.syncShards(runId, layer);
      const missing = shards.filter((s) => s.status !== 'DONE' || s.outputSha256 === null);
      if (missing.length > 0) throw new Error(`layer ${layer} of run ${runId}: shards ${missing.map((s) => s.index).join(', ')} have no output yet`);
      const n = c.dataset.rows;
      const fetch = (s: Shard) => async () => decodeCodeNpy(await this.d.store.get(s.outputSha256!), `shard ${s.index} of layer ${layer}`, { rows: n, cols: s.v1 - s.v0 }).ids;
      const blocks = await Promise.all(shards.map((s) => this.blocks.get(runId, layer, s.index, s.outputSha256!, { rows: n, cols: s.v1 - s.v0 }, fetch(s))));
      const prefetched = shards.filter((s) => this.blocks.fetchedAhead(runId, layer, s.index, s.outputSha256!)).length;
      const code = assembleLayer(n, c.params.V, c.ks[layer - 1]!, shards.map((s) => shardSpec(c, layer, s)), blocks);
      const put = await this.d.store.put(encodeCodeNpy(code.ids, n, c.params.V));
      row = await setLayerStatus(runId, layer, 'DONE', put.sha256);
      // Not for a run released meanwhile (cancelled during the assembly): its marks would stay.
      if (this.fixed.has(runId)) this.blocks.assembledLayer(runId, layer);
      this.d.log.info({ runId, layer, outputSha256: put.sha256, ms: Math.round(performance.now() - t0), shards: shards.length, prefetched }, 'layer assembled');
    }
    const lastShardAt = this.lastShardAt.get(runId)?.get(layer);
    this.lastShardAt.get(runId)?.delete(layer);
    if (this.lastShardAt.get(runId)?.size === 0) this.lastShardAt.delete(runId);
    const gap = () => {
      if (lastShardAt !== undefined) this.addOverhead(runId, Math.max(0, Date.now() - lastShardAt) / 1000);
    };
    if (layer < c.ks.length) {
      await createLayer({ runId, layer: layer + 1, k: c.ks[layer]!, inputSha256: row.outputSha256!, shards: layerShards(c, layer + 1) });
      await this.enqueueLayer(runId, layer + 1);
      gap();
      return { outputSha256: row.outputSha256! };
    }
    gap();
    const done = await finishRun({
      store: this.d.store,
      runId,
      params: c.params,
      ks: c.ks,
      dataset: c.dataset,
      labelsId: c.run.labelsId,
      startedAt: c.run.startedAt,
      coordinatorSeconds: this.overhead.get(runId) ?? 0,
      onProgress: (progress) => this.d.bus.emit(runId, { type: 'progress', progress }),
      distill: c.distill !== null,
      queueDistillation: (ref) => this.distillStage.queue(c, ref),
    });
    this.d.bus.emit(runId, { type: 'status', status: done.status, modelHash: done.modelHash });
    this.d.log.info({ runId, modelHash: done.modelHash, status: done.status }, 'run finished');
    await this.cleanupJobs(runId, c.ks.length);
    if (done.status === 'SUCCEEDED') this.release(runId);
    return { outputSha256: row.outputSha256!, modelSha256: done.modelHash };
  }

  /** Brings DB shard state up to date with Redis (events missed while the coordinator or the DB was down). */
  async syncShards(runId: string, layer: number): Promise<Shard[]> {
    const shards = await listShards(runId, layer);
    let changed = false;
    for (const s of shards) {
      if (s.status === 'DONE') continue;
      const job = await Job.fromId(this.d.queues.shard, shardJobId(runId, layer, s.index));
      if (job && job.finishedOn && !job.failedReason && job.returnvalue) {
        const r = parseResult('shard', job.returnvalue);
        const done = await markShardDone(runId, layer, s.index, { outputSha256: r.sha256, seconds: r.seconds, workerId: r.workerId });
        if (done.first) this.d.shardRate.mark();
        changed = true;
      }
    }
    return changed ? listShards(runId, layer) : shards;
  }

  // ── events from the queues ────────────────────────────────────────────────────────────────

  async onShardActive(jobId: string): Promise<void> {
    const id = parseShardJobId(jobId);
    if (!id) return;
    const job = await Job.fromId(this.d.queues.shard, jobId);
    await markShardRunning(id.runId, id.layer, id.index, job?.processedBy ?? 'unknown');
  }

  async onShardCompleted(jobId: string, returnvalue: unknown): Promise<void> {
    const id = parseShardJobId(jobId);
    if (!id) return;
    const r = parseResult('shard', typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue);
    const done = await markShardDone(id.runId, id.layer, id.index, { outputSha256: r.sha256, seconds: r.seconds, workerId: r.workerId });
    if (!done.first) return;
    // Only for runs this coordinator is driving: a late event of an ended run fetches nothing.
    if (this.fixed.has(id.runId)) this.blocks.prefetch(id.runId, id.layer, id.index, r.sha256, r.rows, r.cols);
    this.d.shardRate.mark();
    const ks = this.fixed.get(id.runId)?.ks ?? ((await getRun(id.runId)).ks as number[]);
    this.d.bus.emit(id.runId, {
      type: 'progress',
      progress: { stage: 'layer', layer: id.layer, layers: ks.length, k: ks[id.layer - 1]!, done: done.shardsDone, total: done.shardsTotal },
    });
  }

  /** BullMQ emits `failed` on the queue only when a job fails for good (retries exhausted or unrecoverable). */
  async onShardFailed(jobId: string, reason: string): Promise<void> {
    const id = parseShardJobId(jobId);
    if (!id) return;
    await markShardFailed(id.runId, id.layer, id.index, reason);
    const s = (await listShards(id.runId, id.layer)).find((x) => x.index === id.index);
    const range = s ? ` (clusterings ${s.v0}..${s.v1 - 1})` : '';
    await this.failRun(id.runId, `shard ${id.index} of layer ${id.layer}${range} failed permanently: ${reason}`);
  }

  /** The layer job failed for good: name the shard that failed it (read through BullMQ's flow API), else the layer's reason. */
  async onLayerFailed(jobId: string, reason: string): Promise<void> {
    const id = parseLayerJobId(jobId);
    if (!id) return;
    let message = `layer ${id.layer} failed: ${reason}`;
    const parent = await Job.fromId(this.d.queues.layer, jobId);
    const children = parent ? await failedChildren(parent, `${this.d.queues.prefix}:${queueName('shard')}`) : [];
    for (const childId of children) {
      const child = await Job.fromId(this.d.queues.shard, childId);
      const sid = parseShardJobId(childId);
      if (child?.failedReason && sid) {
        message = `shard ${sid.index} of layer ${sid.layer} failed permanently: ${child.failedReason}`;
        break;
      }
    }
    await this.failRun(id.runId, message);
  }

  async failRun(runId: string, error: string): Promise<void> {
    try {
      await setRunStatus(runId, 'FAILED', { error });
    } catch (err) {
      if (err instanceof RegistryError && (err.code === 'CONFLICT' || err.code === 'NOT_FOUND')) return this.release(runId); // already ended
      throw err;
    }
    this.d.log.error({ runId, error }, 'run failed');
    this.d.bus.emit(runId, { type: 'status', status: 'FAILED', error });
    this.release(runId);
    await this.removeQueuedShards(runId);
  }

  /** Queued (not running) shards of an ended run are removed; running ones are aborted by their workers or finish harmlessly. */
  async removeQueuedShards(runId: string): Promise<void> {
    const run = await getRun(runId);
    if (run.currentLayer < 1) return;
    const shards = await listShards(runId, run.currentLayer, { status: ['PENDING', 'QUEUED', 'RUNNING', 'FAILED'] });
    for (const s of shards) {
      try {
        await this.d.queues.shard.remove(shardJobId(runId, run.currentLayer, s.index));
      } catch {
        // Locked by a worker: it is aborted (cancel) or fails/finishes on its own.
      }
    }
  }

  /** A finished run's jobs are dropped from Redis (its results live in Postgres and the store). */
  private async cleanupJobs(runId: string, layers: number): Promise<void> {
    for (let l = 1; l <= layers; l++) {
      try {
        const job = await Job.fromId(this.d.queues.layer, layerJobId(runId, l));
        if (job && (await job.getState()) !== 'active') await this.d.queues.layer.remove(job.id!, { removeChildren: true });
      } catch (err) {
        this.d.log.debug({ runId, layer: l, err: (err as Error).message }, 'cleanup skipped');
      }
    }
  }

  // ── restart safety ────────────────────────────────────────────────────────────────────────

  async reconcileAll(): Promise<void> {
    const runs = await listUnfinishedRuns();
    // Runs that ended without this process seeing it (another coordinator, a missed event) are forgotten.
    const unfinished = new Set(runs.map((r) => r.id));
    for (const id of [...this.fixed.keys(), ...this.overhead.keys(), ...this.lastShardAt.keys()]) {
      if (!unfinished.has(id) && !this.locks.has(id)) this.release(id);
    }
    for (const run of runs) {
      if (this.closed) return;
      await this.withRunLock(run.id, () => this.reconcileRun(run.id)).catch((err: unknown) =>
        this.d.log.error({ runId: run.id, err: (err as Error).message }, 'reconcile failed'),
      );
    }
  }

  /**
   * Re-drives one run from the state in Postgres and Redis; safe to call at any time. Per state:
   * QUEUED → plan and queue layer 1; DISTILLING → the distill stage's reconcile; RUNNING → by the
   * current layer: assembled (DONE) → advance; flow missing → queue it again; layer job failed →
   * fail the run; completed → advance; otherwise (waiting on shards, delayed, active) → bring the
   * layer's shard rows up to date from Redis, so completions whose events were missed (coordinator
   * or database down) are counted. Ended runs are not listed by listUnfinishedRuns.
   */
  async reconcileRun(runId: string): Promise<void> {
    const c = await this.context(runId);
    switch (c.run.status) {
      case 'QUEUED':
        // Created, but the coordinator stopped before the first layer was queued.
        return this.startRun(c);
      case 'DISTILLING':
        return this.distillStage.reconcile(c);
      case 'RUNNING':
        break;
      default:
        return this.release(runId);
    }
    if (c.run.currentLayer < 1) return;
    const layer = c.run.currentLayer;
    const row = await getLayer(runId, layer);
    if (row.status === 'DONE') {
      // Stopped between assembling the layer and queueing the next one (or finishing).
      await this.advance(runId, layer);
      return;
    }
    const found = await jobWithState(this.d.queues.layer, layerJobId(runId, layer));
    if (!found) {
      this.d.log.warn({ runId, layer }, 'layer flow missing from Redis: queueing it again');
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
  withRunLock<T>(runId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(runId) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(fn);
    this.locks.set(runId, next);
    void next
      .finally(() => {
        if (this.locks.get(runId) === next) this.locks.delete(runId);
      })
      .catch(() => {});
    return next;
  }

  /** Retries `fn` through transient infrastructure errors for the configured budget (see runLayerJob). */
  infra<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return withInfraRetry(fn, {
      budgetMs: this.d.infraRetryMs,
      signal: this.stopping.signal,
      onRetry: (err, attempt, delayMs) =>
        this.d.log.warn({ err: (err as Error).message, attempt, delayMs }, `${what}: infrastructure unavailable, retrying`),
    });
  }

  /** An event handler or bookkeeping step off the caller's path: retried through outages, then logged. */
  background(what: string, fn: () => Promise<unknown>): Promise<void> {
    return this.infra(what, fn).then(
      () => undefined,
      (err: unknown) => this.d.log.error({ err: (err as Error).message }, `${what}: handler failed`),
    );
  }
}
