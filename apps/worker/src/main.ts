/** `cmbn worker` / `node --import tsx apps/worker/src/main.ts`: one worker process. */
import { errorLine } from '@cmbn/jobs';
import { readWorkerEnv } from './env.ts';
import { createLogger } from './logger.ts';
import { startWorker, type WorkerHandle } from './worker.ts';

export async function runWorkerProcess(overrides: { concurrency?: number } = {}): Promise<void> {
  const env = readWorkerEnv();
  const log = createLogger(env.LOG_LEVEL, 'cmbn-worker');
  // Installed before the start-up, so that a signal during it (Redis unreachable, say) ends the
  // process through this path, not through Node's default: with nothing to close yet, at once.
  const started: { handle?: WorkerHandle } = {};
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    const handle = started.handle;
    if (handle === undefined) {
      log.warn({ signal }, 'signal during start-up: exiting');
      process.exit(1);
    }
    const graceMs = env.CMBN_SHUTDOWN_GRACE_MS;
    log.info({ signal, graceMs }, 'shutting down: finishing active shards');
    // worker.close() waits for the active shards and for Redis: with Redis down it never returns.
    // After the grace period the process exits anyway; an unfinished shard's lock expires and
    // another worker recomputes it (the same bytes).
    setTimeout(() => {
      log.error({ graceMs }, 'shutdown grace period over: exiting without a complete close');
      process.exit(1);
    }, graceMs);
    handle.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err: String(err) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  started.handle = await startWorker({
    redisUrl: env.REDIS_URL,
    databaseUrl: env.DATABASE_URL,
    jobs: env.CMBN_WORKER_JOBS,
    artifacts: env.CMBN_ARTIFACTS,
    prefix: env.CMBN_QUEUE_PREFIX,
    concurrency: overrides.concurrency ?? env.CMBN_WORKER_CONCURRENCY,
    threads: env.CMBN_WORKER_THREADS,
    cacheDir: env.CMBN_WORKER_CACHE,
    lockDurationMs: env.CMBN_LOCK_DURATION_MS,
    stalledIntervalMs: env.CMBN_STALLED_INTERVAL_MS,
    prefer: env.CMBN_DENSE_BACKEND,
    testDelayMs: env.CMBN_WORKER_TEST_DELAY_MS,
    distillLockDurationMs: env.CMBN_DISTILL_LOCK_DURATION_MS,
    ...(env.CMBN_WORKER_TEST_DISTILL_CRASH ? { testDistillCrash: env.CMBN_WORKER_TEST_DISTILL_CRASH } : {}),
    logger: log,
  });
  // A signal that came while startWorker ran has already exited the process.
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runWorkerProcess().catch((err: unknown) => {
    // One line, no stack: the errors that end a start-up (configuration, an unusable artifact store) say what to fix.
    process.stderr.write(`cmbn worker: ${errorLine(err)}\n`);
    process.exit(1);
  });
}
