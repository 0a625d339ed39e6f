/** `cmbn coordinator` / `node --import tsx apps/coordinator/src/main.ts`: the API and orchestration. */
import { readCoordinatorEnv } from './env.ts';
import { createLogger } from './logger.ts';
import { startCoordinator } from './coordinator.ts';

export async function runCoordinatorProcess(overrides: { port?: number } = {}): Promise<void> {
  const env = readCoordinatorEnv();
  const logger = createLogger(env.LOG_LEVEL);
  const handle = await startCoordinator({
    databaseUrl: env.DATABASE_URL,
    redisUrl: env.REDIS_URL,
    artifacts: env.CMBN_ARTIFACTS,
    prefix: env.CMBN_QUEUE_PREFIX,
    port: overrides.port ?? env.PORT,
    host: process.env.HOST ?? '0.0.0.0',
    apiToken: env.CMBN_API_TOKEN,
    maxUploadBytes: env.CMBN_MAX_UPLOAD_BYTES,
    reconcileIntervalMs: env.CMBN_RECONCILE_INTERVAL_MS,
    lockDurationMs: env.CMBN_LOCK_DURATION_MS,
    stalledIntervalMs: env.CMBN_STALLED_INTERVAL_MS,
    logger,
  });
  // One plain line whatever LOG_LEVEL says, for people, process managers and tests.
  process.stderr.write(`cmbn coordinator: listening on port ${handle.port} (${handle.url})\n`);
  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    handle.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err: String(err) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runCoordinatorProcess().catch((err: unknown) => {
    process.stderr.write(`cmbn coordinator: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
