import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { openArtifactStore } from '@cmbn/artifacts';
import { RegistryConfigError, checkRegistryOnce, closeDb, databaseLocation, getDb } from '@cmbn/registry';
import {
  CancelledError,
  cancelChannel,
  checkRedis,
  throttledRedisWarning,
  cancelledKey,
  classifyError,
  errorLine,
  parsePayload,
  queueName,
  type HandlersFor,
  type JobContext,
  type JobKind,
  type JobPayload,
  toBullmqError,
} from '@cmbn/jobs';
import { ComputePool } from './compute-pool.ts';
import { ZWorkerEnv } from './env.ts';
import { LayerInputCache } from './layer-input-cache.ts';
import { createLogger } from './logger.ts';
import { handleDistill } from './distill-handler.ts';
import { handleShard } from './shard-handler.ts';

/** The job kinds a worker process can take (CMBN_WORKER_JOBS). */
export type WorkerJobKind = 'shard' | 'distill';

export interface StartWorkerOptions {
  redisUrl: string;
  /** Postgres of the model registry, where distill jobs register students (DATABASE_URL). */
  databaseUrl: string;
  /** Queues this process consumes (default both). A shard-only worker never touches Postgres. */
  jobs?: readonly WorkerJobKind[];
  /** Artifact store URL (file:///abs/dir or a path). */
  artifacts: string;
  /** BullMQ key prefix (CMBN_QUEUE_PREFIX). */
  prefix: string;
  /** Shards in flight in this process, one compute thread each. */
  concurrency?: number;
  /** Intra-op threads per compute thread. */
  threads?: number;
  cacheDir: string;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  prefer?: 'gpu' | 'blas' | 'ort' | 'js';
  /** TEST ONLY: delay before each shard (lets a test kill a worker mid-shard). */
  testDelayMs?: number;
  /** Lock of an active distill job (student training shares this process's event loop). */
  distillLockDurationMs?: number;
  /** TEST ONLY: see CMBN_WORKER_TEST_DISTILL_CRASH. */
  testDistillCrash?: 'after-publish';
  /** How long transient Postgres/Redis/store errors are retried inside a job; default CMBN_INFRA_RETRY_MS (120 s). */
  infraRetryMs?: number;
  logger?: Logger;
}

export interface WorkerHandle {
  workerId: string;
  /** Name of the dense backend the compute threads run. */
  backend: Promise<string>;
  cache: LayerInputCache;
  /** Stops taking jobs, lets active shards finish, then releases threads and connections. */
  close(): Promise<void>;
}

/** How long the start-up probe of a distill worker's registry waits for Postgres. */
const REGISTRY_PROBE_MS = 10_000;

/**
 * A distill worker registers students in Postgres, and DATABASE_URL has a default
 * (127.0.0.1:5432), so a worker started on another host without it would otherwise fail only at
 * its first distill job. One check at start-up (@cmbn/registry's checkRegistryOnce: the server
 * answers, the database and user exist, every migration is applied), without holding the
 * start-up up (a database that is restarting is retried by the jobs themselves): one line either
 * way, a warning naming the database and the fix when it fails.
 */
async function probeRegistry(url: string, log: Logger, closing: () => boolean): Promise<void> {
  const where = databaseLocation(url);
  const orShardOnly = 'or CMBN_WORKER_JOBS=shard on a host without one';
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${REGISTRY_PROBE_MS / 1000} s`)), REGISTRY_PROBE_MS);
      timer.unref();
    });
    await Promise.race([checkRegistryOnce(url), timeout]);
    log.info({ database: where }, `registry: Postgres at ${where} answers (distill jobs register students there)`);
  } catch (err) {
    if (closing()) return; // shutting down during the probe: not the database's fault
    if (err instanceof RegistryConfigError) {
      log.warn({ database: where, err: err.reason }, `distill jobs register students in the ${err.message}, ${orShardOnly}`);
      return;
    }
    const reason = errorLine(err);
    log.warn(
      { database: where, err: reason },
      `distill jobs register students in Postgres at ${where}, which did not answer (${reason}); set DATABASE_URL to the registry's database, ${orShardOnly}`,
    );
  } finally {
    clearTimeout(timer);
  }
}

export async function startWorker(opts: StartWorkerOptions): Promise<WorkerHandle> {
  const log = opts.logger ?? createLogger('info', 'cmbn-worker');
  const concurrency = opts.concurrency ?? 1;
  const workerId = `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
  const jobs = new Set<WorkerJobKind>(opts.jobs ?? ['shard', 'distill']);
  // First, before compute threads and Redis: a store that cannot be written (wrong endpoint,
  // rejected keys, missing bucket, unwritable directory) ends the start-up here, within seconds,
  // with the one-line ArtifactStoreConfigError that main.ts prints, instead of failing every shard.
  const store = await openArtifactStore(opts.artifacts);
  // Every Redis client has an error listener (no "[ioredis] Unhandled error event" while Redis
  // restarts); they reconnect on their own, and commands wait for it (maxRetriesPerRequest: null).
  const onRedisError = throttledRedisWarning((fields, msg) => log.warn(fields, msg));
  // Then Redis: one that refuses this worker (a password, INFO, a version below 5.0) ends the
  // start-up with one RedisConfigError line; one that is down is waited for.
  await checkRedis(opts.redisUrl, { onWaiting: onRedisError('redis connection'), onWarning: (msg) => log.warn(msg) }).catch((err: unknown) => {
    store.close?.();
    throw err;
  });
  const cache = new LayerInputCache(store, opts.cacheDir);
  const pool = new ComputePool(concurrency, { threads: opts.threads ?? 1, prefer: opts.prefer });
  const active = new Map<string, string>(); // jobId → runId

  // Fail fast (before taking jobs) when the compute threads cannot start.
  const backendName = await pool.backendName().catch(async (err: unknown) => {
    await pool.close();
    store.close?.();
    throw new Error(`compute threads failed to start: ${(err as Error).message}`);
  });

  // main.ts passes the rest of the environment; this one is read here until it passes it too.
  const infraRetryMs = opts.infraRetryMs ?? ZWorkerEnv.shape.CMBN_INFRA_RETRY_MS.parse(process.env.CMBN_INFRA_RETRY_MS);
  const connection = new Redis(opts.redisUrl, { maxRetriesPerRequest: null });
  connection.on('error', onRedisError('redis connection'));
  const subscriber = new Redis(opts.redisUrl, { maxRetriesPerRequest: null });
  subscriber.on('error', onRedisError('cancel subscriber'));

  // The Prisma client connects on the first query (a distill job's registration), not here.
  getDb(opts.databaseUrl);
  const handlers: HandlersFor<'worker'> = {
    shard: (p, ctx) => handleShard({ store, cache, pool, workerId, testDelayMs: opts.testDelayMs ?? 0, infraRetryMs }, p, ctx),
    distill: (p, ctx) => handleDistill({ store, workerId, infraRetryMs, ...(opts.testDistillCrash ? { testCrash: opts.testDistillCrash } : {}) }, p, ctx),
  };

  const workers: Worker[] = [];
  const consume = <K extends keyof typeof handlers & JobKind>(kind: K, o: { concurrency: number; lockDurationMs: number }) => {
    const w = new Worker(
      queueName(kind),
      async (job: Job, _token?: string, signal?: AbortSignal) => {
        let payload: JobPayload<K>;
        try {
          payload = parsePayload(kind, job.data);
        } catch (err) {
          throw toBullmqError(err, kind);
        }
        if ((await connection.exists(cancelledKey(opts.prefix, payload.runId))) === 1) {
          throw toBullmqError(new CancelledError(`run ${payload.runId} was cancelled`));
        }
        active.set(job.id!, payload.runId);
        const t0 = performance.now();
        try {
          const ctx: JobContext = { jobId: job.id!, attempt: job.attemptsMade + 1, log: (msg) => log.info({ jobId: job.id }, msg), signal };
          const result = await (handlers[kind] as (p: JobPayload<K>, c: JobContext) => Promise<unknown>)(payload, ctx);
          log.debug({ jobId: job.id, ms: Math.round(performance.now() - t0) }, `${kind} done`);
          return result;
        } catch (err) {
          // The taxonomy (@cmbn/jobs failure.ts): bad input, cancellation and bugs fail at once;
          // anything else is retried per the catalog (infra errors were already retried in the handler).
          const final = signal?.aborted ? toBullmqError(new CancelledError(`${kind} aborted: ${String(signal.reason ?? 'cancelled')}`)) : toBullmqError(err);
          log.warn({ jobId: job.id, err: final.message, kind: classifyError(err), unrecoverable: final instanceof UnrecoverableError }, `${kind} failed`);
          throw final;
        } finally {
          active.delete(job.id!);
        }
      },
      {
        connection,
        prefix: opts.prefix,
        concurrency: o.concurrency,
        name: workerId,
        lockDuration: o.lockDurationMs,
        stalledInterval: opts.stalledIntervalMs ?? 30_000,
        // A shard whose worker died is retried; twice in a row means something kills workers on it.
        maxStalledCount: 2,
      },
    );
    w.on('error', (err) => log.error({ err: err.message }, 'worker error'));
    workers.push(w);
  };
  if (jobs.has('shard')) consume('shard', { concurrency, lockDurationMs: opts.lockDurationMs ?? 30_000 });
  // One student at a time per process: training already uses every core.
  if (jobs.has('distill')) consume('distill', { concurrency: 1, lockDurationMs: opts.distillLockDurationMs ?? 120_000 });

  // Ready means connected: BullMQ (5.81, taskforcesh/bullmq#3691) removes a connection's listeners
  // when it is closed while still initialising, and the init's rejection is then emitted as an
  // 'error' with no listener, which kills the process; a SIGTERM soon after start-up, with Redis
  // gone, did that (shutdown.int.test.ts). Once initialised, a connection closes without it.
  // Everything the worker holds, released in one order by close() (graceful: running jobs finish,
  // Redis gets a QUIT, errors surface) and by a failed start-up (forced: nothing is waited for, and
  // an error in one step does not stop the next from running).
  const release = async (forced: boolean): Promise<void> => {
    const step = (p: Promise<unknown>): Promise<unknown> => (forced ? p.catch(() => {}) : p);
    await Promise.all(workers.map((w) => step(w.close(forced))));
    await step(pool.close());
    subscriber.disconnect();
    if (forced) connection.disconnect();
    else await connection.quit().catch(() => connection.disconnect());
    await step(closeDb());
    store.close?.();
  };
  try {
    await Promise.all(workers.map((w) => w.waitUntilReady()));
    await subscriber.subscribe(cancelChannel(opts.prefix));
  } catch (err) {
    // A start-up that fails here (Redis refusing BullMQ's version check, a connection ended) must
    // not leave threads and reconnecting clients behind: `cmbn worker` would hang instead of exiting.
    await release(true);
    throw err;
  }
  subscriber.on('message', (_ch, runId: string) => {
    for (const [jobId, r] of active) {
      if (r === runId) for (const w of workers) w.cancelJob(jobId, `run ${runId} was cancelled`);
    }
  });

  let closing: Promise<void> | undefined;
  const backend = Promise.resolve(backendName);
  log.info({ workerId, backend: backendName, concurrency, prefix: opts.prefix, jobs: [...jobs], artifacts: store.url }, `worker ready: dense backend ${backendName}`);
  if (jobs.has('distill')) void probeRegistry(opts.databaseUrl, log, () => closing !== undefined);

  return {
    workerId,
    backend,
    cache,
    close() {
      closing ??= (async () => {
        await release(false);
        log.info({ workerId }, 'worker closed');
      })();
      return closing;
    },
  };
}
