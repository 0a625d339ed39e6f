import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Express } from 'express';
import type { Logger } from 'pino';
import { openArtifactStore } from '@cmbn/artifacts';
import { closeDb, getDb } from '@cmbn/registry';
import { createApp } from './app.ts';
import { ZCoordinatorEnv } from './env.ts';
import { createLogger } from './logger.ts';
import { Orchestrator } from './orchestrator.ts';
import { ProgressBus } from './progress-bus.ts';
import { openQueues } from './queues.ts';

export interface StartCoordinatorOptions {
  databaseUrl: string;
  redisUrl: string;
  /** Artifact store URL shared with the workers. */
  artifacts: string;
  /** BullMQ key prefix (CMBN_QUEUE_PREFIX). */
  prefix: string;
  /** 0 picks a free port. */
  port: number;
  host?: string;
  apiToken?: string;
  /** CMBN_API_TOKENS, `name:token,…`. */
  apiTokens?: string;
  maxUploadBytes: number;
  reconcileIntervalMs?: number;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** How long transient Postgres/Redis/store errors are retried inside a step; default CMBN_INFRA_RETRY_MS (120 s). */
  infraRetryMs?: number;
  logger?: Logger;
}

export interface CoordinatorHandle {
  url: string;
  port: number;
  app: Express;
  orchestrator: Orchestrator;
  close(): Promise<void>;
}

/** Starts the API and the orchestration, resuming every unfinished run found in Postgres. */
export async function startCoordinator(opts: StartCoordinatorOptions): Promise<CoordinatorHandle> {
  const logger = opts.logger ?? createLogger('info');
  // First, before Redis and Postgres: a store that cannot be written (wrong endpoint, rejected
  // keys, missing bucket, unwritable directory) ends the start-up here, within seconds, with the
  // one-line ArtifactStoreConfigError that main.ts prints, instead of failing the first upload.
  const store = await openArtifactStore(opts.artifacts);
  getDb(opts.databaseUrl);
  // Throttled: a Redis outage makes every connection report each reconnect attempt.
  let lastRedisError = 0;
  const queues = await openQueues(opts.redisUrl, opts.prefix, (what, err) => {
    if (Date.now() - lastRedisError < 5_000) return;
    lastRedisError = Date.now();
    logger.warn({ err: err.message, what }, 'redis unavailable (retrying)');
  });
  const bus = new ProgressBus();
  const orchestrator = new Orchestrator(store, queues, bus, logger, {
    reconcileIntervalMs: opts.reconcileIntervalMs ?? 10_000,
    lockDurationMs: opts.lockDurationMs ?? 300_000,
    stalledIntervalMs: opts.stalledIntervalMs ?? 30_000,
    // main.ts passes the rest of the environment; this one is read here until it passes it too.
    infraRetryMs: opts.infraRetryMs ?? ZCoordinatorEnv.shape.CMBN_INFRA_RETRY_MS.parse(process.env.CMBN_INFRA_RETRY_MS),
  });
  await orchestrator.start();
  const app = createApp({ orchestrator, store, queues, bus, logger, apiToken: opts.apiToken, apiTokens: opts.apiTokens, maxUploadBytes: opts.maxUploadBytes });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(opts.port, opts.host ?? '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${opts.host ?? '127.0.0.1'}:${port}`;
  logger.info({ url, prefix: opts.prefix, artifacts: store.url, auth: opts.apiToken || opts.apiTokens ? 'token' : 'none' }, 'coordinator listening');
  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    app,
    orchestrator,
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections(); // SSE streams would hold close() open
        });
        await orchestrator.close();
        await queues.close();
        await closeDb();
        store.close?.();
      })();
      return closing;
    },
  };
}
