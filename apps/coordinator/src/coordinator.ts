import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Express } from 'express';
import type { Logger } from 'pino';
import { openArtifactStore } from '@cmbn/artifacts';
import { checkRedis, throttledRedisWarning } from '@cmbn/jobs';
import { closeDb, getDb } from '@cmbn/registry';
import { createApp } from './app.ts';
import { CloseSequence, type CloseProblem, type CloseStep } from './close-steps.ts';
import { readCoordinatorEnv, type TCoordinatorEnv } from './env.ts';
import { GcService } from './gc-service.ts';
import { createLogger } from './logger.ts';
import { Orchestrator } from './orchestrator.ts';
import { ProgressBus } from './progress-bus.ts';
import { PendingReconciler } from './pending-reconciler.ts';
import { openQueues } from './queues.ts';
import { waitForRegistry } from './registry-wait.ts';

/**
 * What the coordinator runs with. The optional settings not given here come from `env`: the
 * environment main.ts read once through ZCoordinatorEnv, or, for an in-process caller (tests)
 * that passes none, process.env read through the same schema (one schema, one readable error).
 */
export interface StartCoordinatorOptions {
  env?: TCoordinatorEnv;
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
  /** CMBN_SESSION_TTL_S; default env.ts'. */
  sessionTtlS?: number;
  /** CMBN_TRUST_PROXY (Express `trust proxy`); default none. */
  trustProxy?: TCoordinatorEnv['CMBN_TRUST_PROXY'];
  /** CMBN_PUBLIC_URL's origin. */
  publicUrl?: string;
  /** CMBN_PENDING_RECONCILE_MS; default env.ts'. */
  pendingReconcileMs?: number;
  /** CMBN_PENDING_LOCAL_MAX_AGE_MS; default env.ts'. */
  pendingLocalMaxAgeMs?: number;
  maxUploadBytes: number;
  reconcileIntervalMs?: number;
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** How long transient Postgres/Redis/store errors are retried inside a step; default CMBN_INFRA_RETRY_MS (120 s). */
  infraRetryMs?: number;
  /** Bound on each step of close() (close-steps.ts); default 30 s. */
  closeStepTimeoutMs?: number;
  logger?: Logger;
}

export interface CoordinatorHandle {
  url: string;
  port: number;
  app: Express;
  orchestrator: Orchestrator;
  /** Fails stuck PENDING versions; stopped (its pass in flight awaited) by close() before the queues close. */
  reconciler: PendingReconciler;
  /**
   * Stops serving and closes everything, each step bounded (close-steps.ts); resolves with the
   * steps that overran or failed (each also logged), empty after a clean close.
   */
  close(): Promise<CloseProblem[]>;
  /** The close step in progress and what it waits on; undefined unless closing (main.ts' grace log). */
  closing(): ReturnType<CloseSequence['current']>;
}

/** Starts the API and the orchestration, resuming every unfinished run found in Postgres. */
export async function startCoordinator(opts: StartCoordinatorOptions): Promise<CoordinatorHandle> {
  const env = opts.env ?? readCoordinatorEnv();
  const logger = opts.logger ?? createLogger(env.LOG_LEVEL);
  const apiToken = opts.apiToken ?? env.CMBN_API_TOKEN;
  const apiTokens = opts.apiTokens ?? env.CMBN_API_TOKENS;
  // First, before Redis and Postgres: a store that cannot be written (wrong endpoint, rejected
  // keys, missing bucket, unwritable directory) ends the start-up here, within seconds, with the
  // one-line ArtifactStoreConfigError that main.ts prints, instead of failing the first upload.
  const store = await openArtifactStore(opts.artifacts);
  // Throttled: a Redis outage makes every connection report each reconnect attempt.
  const redisWarning = throttledRedisWarning((fields, msg) => logger.warn(fields, msg));
  const onRedisError = (what: string, err: Error) => redisWarning(what)(err);
  const openServices = async () => {
    // Then Redis: one that refuses the coordinator (a password, INFO, a version below 5.0) ends the start-up with one
    // RedisConfigError line, where BullMQ would retry it forever; one that is down is waited for.
    await checkRedis(opts.redisUrl, { onWaiting: redisWarning('redis connection'), onWarning: (msg) => logger.warn(msg) });
    // Then Postgres, the same way: no such database or user, or migrations not applied, end the
    // start-up with one line (RegistryConfigError); a server that is down is waited for.
    await waitForRegistry(opts.databaseUrl, logger);
    getDb(opts.databaseUrl);
    return openQueues(opts.redisUrl, opts.prefix, onRedisError);
  };
  const queues = await openServices().catch(async (err: unknown) => {
    await closeDb().catch(() => {});
    store.close?.();
    throw err;
  });
  const sequence = new CloseSequence(logger, opts.closeStepTimeoutMs ?? 30_000);
  const releaseSteps = (): CloseStep[] => [
    { name: 'queues', run: () => queues.close() },
    { name: 'database', run: () => closeDb() },
    { name: 'artifact store', run: async () => store.close?.() },
  ];

  const started: { orchestrator?: Orchestrator } = {};
  const serve = async () => {
    const bus = new ProgressBus();
    const orchestrator = (started.orchestrator = new Orchestrator(store, queues, bus, logger, {
      reconcileIntervalMs: opts.reconcileIntervalMs ?? env.CMBN_RECONCILE_INTERVAL_MS,
      lockDurationMs: opts.lockDurationMs ?? env.CMBN_LOCK_DURATION_MS,
      stalledIntervalMs: opts.stalledIntervalMs ?? env.CMBN_STALLED_INTERVAL_MS,
      infraRetryMs: opts.infraRetryMs ?? env.CMBN_INFRA_RETRY_MS,
    }));
    const gc = new GcService(queues.gc, store, logger);
    await orchestrator.start({ gc: gc.run });
    const app = createApp({
      orchestrator,
      gc,
      store,
      queues,
      bus,
      logger,
      apiToken,
      apiTokens,
      sessionTtlS: opts.sessionTtlS ?? env.CMBN_SESSION_TTL_S,
      trustProxy: opts.trustProxy ?? env.CMBN_TRUST_PROXY ?? false,
      publicUrl: opts.publicUrl ?? env.CMBN_PUBLIC_URL,
      authFailureLimit: { limit: env.CMBN_AUTH_FAIL_LIMIT, windowS: env.CMBN_AUTH_FAIL_WINDOW_S },
      maxUploadBytes: opts.maxUploadBytes,
    });
    // Fails versions stuck PENDING once their job is gone, and finishes interrupted artifact deletions.
    const reconciler = new PendingReconciler({
      queues,
      store,
      logger,
      intervalMs: opts.pendingReconcileMs ?? env.CMBN_PENDING_RECONCILE_MS,
      localMaxAgeMs: opts.pendingLocalMaxAgeMs ?? env.CMBN_PENDING_LOCAL_MAX_AGE_MS,
    });
    const server: Server = await new Promise((resolve, reject) => {
      const s = app.listen(opts.port, opts.host ?? '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve(s)));
    });
    return { orchestrator, app, reconciler, server };
  };
  // A start-up that fails from here on (the port taken, Postgres gone during the restart scan)
  // releases what it opened: the queues' Redis connections kept `cmbn coordinator` alive after
  // it had printed its error, so it never exited.
  const { orchestrator, app, reconciler, server } = await serve().catch(async (err: unknown) => {
    await sequence.run([...(started.orchestrator?.closeSteps() ?? []), ...releaseSteps()]);
    throw err;
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${opts.host ?? '127.0.0.1'}:${port}`;
  reconciler.start();
  logger.info({ url, prefix: opts.prefix, artifacts: store.url, auth: apiToken || apiTokens ? 'token' : 'none' }, 'coordinator listening');
  let closing: Promise<CloseProblem[]> | undefined;
  return {
    url,
    port,
    app,
    orchestrator,
    reconciler,
    close() {
      closing ??= sequence.run([
        {
          name: 'http server',
          run: () =>
            new Promise<void>((resolve) => {
              server.close(() => resolve());
              server.closeAllConnections(); // SSE streams would hold close() open
            }),
        },
        { name: 'pending reconciler', run: () => reconciler.stop() },
        ...orchestrator.closeSteps(),
        ...releaseSteps(),
      ]);
      return closing;
    },
    closing: () => sequence.current(),
  };
}
