/**
 * The two-machine deployment of docs/DEPLOY.md, on simulated hosts:
 *
 *   services     Redis (AOF, a password), PostgreSQL (migrated by `npm run db:migrate`; of the
 *                bridge, only the coordinator's address may connect), s3rver
 *   coordinator  `cmbn coordinator` on :8080 (machine A's variables)
 *   worker1/2    `cmbn worker` with machine B's variables: a shard worker (CMBN_WORKER_JOBS=shard,
 *                no DATABASE_URL, never connects to Postgres), each with its own cache dir; the
 *                store only over the network (s3://)
 *   client       `cmbn train --remote http://coordinator:8080 …`
 *
 * Hosts reach each other only through the bridge, by their 198.18.0.x addresses. The suite's runs
 * ask for no student (no --distill), so no distill job is queued and machine B needs no distill
 * worker; one would also need DATABASE_URL and a pg_hba entry for its host.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COORDINATOR_PORT, startCoordinatorOn, startWorkerOn } from './apps.ts';
import { createNetwork, type Host, type Network } from './netns.ts';
import type { Proc } from './procs.ts';
import { REDIS_PORT, startServices, type Services } from './services.ts';

export const HOST_NAMES = ['services', 'coordinator', 'worker1', 'worker2', 'client'] as const;

/** Lock of an active shard job; every outage below lasts longer than it. */
export const WORKER_LOCK_MS = 10_000;
/** The coordinator's assembly-job lock (its default, 300 s, would make a restart wait 5 minutes). */
export const COORDINATOR_LOCK_MS = 30_000;

export interface Deployment {
  net: Network;
  svc: Services;
  /** Redis without its password (what a process that ignores DEPLOY.md's recipe would use: refused). */
  redisUrlWithoutPassword: string;
  host(name: (typeof HOST_NAMES)[number]): Host;
  coordinatorUrl: string;
  coordinator(): Proc;
  workers: Proc[];
  /** SIGKILL the coordinator (a crash). */
  killCoordinator(): Promise<void>;
  /** A new coordinator process on the same host and port. */
  startCoordinator(): Promise<void>;
  /** Every process that must still be running (no manual restart needed). */
  longLived(): Proc[];
  stop(): Promise<void>;
}

export async function deploy(): Promise<Deployment> {
  const net = await createNetwork([...HOST_NAMES]);
  const host = (name: (typeof HOST_NAMES)[number]): Host => net.hosts[name]!;
  let svc: Services | undefined;
  const procs: Proc[] = [];
  const caches: string[] = [];
  const stop = async () => {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    await svc?.stop();
    await net.destroy();
    await Promise.all(caches.map((d) => rm(d, { recursive: true, force: true })));
  };
  try {
    // Letters and digits, as docs/DEPLOY.md asks (passwords go into URLs unescaped).
    svc = await startServices(host('services'), { redisPassword: randomBytes(24).toString('hex'), postgresClients: [host('coordinator').addr] });
    const prefix = `hosts-${randomBytes(4).toString('hex')}`;
    // What both machines' processes get (docs/DEPLOY.md, "Without Docker"): the password is in REDIS_URL.
    const common = {
      REDIS_URL: svc.redis.url,
      CMBN_QUEUE_PREFIX: prefix,
      ...svc.s3Env(prefix),
      CMBN_INFRA_RETRY_MS: '180000',
      LOG_LEVEL: 'info',
    };
    const coordEnv = {
      ...common,
      DATABASE_URL: svc.postgres.url,
      CMBN_RECONCILE_INTERVAL_MS: '2000',
      CMBN_LOCK_DURATION_MS: String(COORDINATOR_LOCK_MS),
      CMBN_STALLED_INTERVAL_MS: '5000',
    };
    let coordinator = await startCoordinatorOn(host('coordinator'), coordEnv);
    procs.push(coordinator);
    const workers = await Promise.all(
      (['worker1', 'worker2'] as const).map(async (name) => {
        const cache = await mkdtemp(join(tmpdir(), `cmbn-hosts-${name}-cache-`));
        caches.push(cache);
        const w = await startWorkerOn(host(name), {
          ...common,
          // Machine B's shard worker: no distill job, so no Postgres. DATABASE_URL is removed, not
          // just left out, so that one in the suite's own environment cannot leak in.
          CMBN_WORKER_JOBS: 'shard',
          DATABASE_URL: undefined,
          CMBN_WORKER_CACHE: cache,
          CMBN_WORKER_CONCURRENCY: '1',
          CMBN_WORKER_THREADS: '1',
          CMBN_LOCK_DURATION_MS: String(WORKER_LOCK_MS),
          CMBN_STALLED_INTERVAL_MS: '2000',
          // debug: one "shard done" line per shard, to see when a cut-off host works again.
          LOG_LEVEL: 'debug',
        });
        procs.push(w);
        return w;
      }),
    );
    return {
      net,
      svc,
      redisUrlWithoutPassword: `redis://${host('services').addr}:${REDIS_PORT}`,
      host,
      coordinatorUrl: `http://${host('coordinator').addr}:${COORDINATOR_PORT}`,
      coordinator: () => coordinator,
      workers,
      killCoordinator: () => coordinator.kill('SIGKILL'),
      startCoordinator: async () => {
        coordinator = await startCoordinatorOn(host('coordinator'), coordEnv);
        procs.push(coordinator);
      },
      longLived: () => [coordinator, ...workers, svc!.redis.proc()!],
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
