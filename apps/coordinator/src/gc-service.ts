import { randomUUID } from 'node:crypto';
import { Job, type Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { TGcJob } from '@cmbn/api';
import type { ArtifactStore } from '@cmbn/artifacts';
import { jobOptions, parseResult, type JobPayload, type JobResult } from '@cmbn/jobs';
import { DEFAULT_GRACE_MS, assertGcGraceAllowed, gcArtifacts } from '@cmbn/registry';
import { AppError } from './errors.ts';

/** Ended sweeps kept for GET /v1/gc/:id: this many, for this long. */
const KEEP = { count: 100, age: 7 * 86_400 };
const ID = /^gc-[0-9a-f-]{36}$/;

/**
 * The artifact sweep as a job: POST /v1/gc queues it (or returns the sweep already queued or
 * running, so repeated requests do not stack sweeps), a coordinator runs it (orchestrator.ts
 * consumes the kind), and GET /v1/gc/:id reports it from BullMQ, whichever coordinator asks. The
 * sweep itself is @cmbn/registry's gcArtifacts, as for the local CLI.
 */
export class GcService {
  constructor(
    private readonly queue: Queue,
    private readonly store: ArtifactStore,
    private readonly log: Logger,
  ) {}

  /** The job handler (the catalog's `gc` kind). */
  readonly run = async (p: JobPayload<'gc'>): Promise<JobResult<'gc'>> => {
    this.log.info({ principal: p.principal, graceSeconds: p.graceSeconds ?? null, dryRun: p.dryRun }, 'artifact sweep started');
    const r = await gcArtifacts(this.store, { ...(p.graceSeconds !== undefined ? { graceMs: p.graceSeconds * 1000 } : {}), dryRun: p.dryRun });
    this.log.info({ scanned: r.scanned, deleted: r.deleted.length, deferred: r.deferred, dryRun: r.dryRun }, 'artifact sweep done');
    return r;
  };

  /**
   * Queues a sweep. A grace too short for what is running is refused here (409), before anything
   * is queued; the job checks again when it runs. Two requests racing past the single-flight
   * check make two sweeps, one after the other: harmless, each deletion is re-checked under lock.
   */
  async request(body: { graceSeconds?: number; dryRun?: boolean }, principal: string): Promise<TGcJob> {
    await assertGcGraceAllowed(body.graceSeconds !== undefined ? body.graceSeconds * 1000 : DEFAULT_GRACE_MS);
    const dryRun = body.dryRun === true;
    const pending = await this.queue.getJobs(['active', 'waiting', 'delayed', 'prioritized', 'waiting-children']);
    const same = pending.find((j) => j.data?.dryRun === dryRun && j.data?.graceSeconds === body.graceSeconds);
    if (same) return this.view(same);
    const payload: JobPayload<'gc'> = { ...(body.graceSeconds !== undefined ? { graceSeconds: body.graceSeconds } : {}), dryRun, principal };
    const job = await this.queue.add('gc', payload, { ...jobOptions('gc'), jobId: `gc-${randomUUID()}`, removeOnComplete: KEEP, removeOnFail: KEEP });
    return this.view(job);
  }

  async get(id: string): Promise<TGcJob> {
    const job = ID.test(id) ? await Job.fromId(this.queue, id) : undefined;
    if (!job) throw new AppError('NOT_FOUND', `sweep ${id} not found (ended sweeps are kept ${KEEP.age / 86_400} days, the last ${KEEP.count})`);
    return this.view(job);
  }

  private async view(job: Job): Promise<TGcJob> {
    const state = await job.getState();
    const status = state === 'completed' ? 'succeeded' : state === 'failed' ? 'failed' : state === 'active' ? 'running' : 'queued';
    const data = job.data as Partial<JobPayload<'gc'>>;
    const at = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : null);
    return {
      id: job.id!,
      status,
      graceSeconds: data.graceSeconds ?? null,
      dryRun: data.dryRun === true,
      principal: data.principal ?? 'unknown',
      attempts: job.attemptsMade,
      createdAt: new Date(job.timestamp).toISOString(),
      startedAt: at(job.processedOn),
      finishedAt: status === 'succeeded' || status === 'failed' ? at(job.finishedOn) : null,
      result: status === 'succeeded' ? parseResult('gc', job.returnvalue) : null,
      error: status === 'failed' ? (job.failedReason ?? 'failed') : null,
    };
  }
}
