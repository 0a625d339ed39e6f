import { Router } from 'express';
import type { THealth } from '@cmbn/api';
import type { Logger } from 'pino';
import type { ArtifactStore } from '@cmbn/artifacts';
import { listDatasets, listUnfinishedRuns } from '@cmbn/registry';
import type { Orchestrator } from '../orchestrator.ts';
import type { Queues } from '../queues.ts';
import { TimeoutError, withTimeout } from '../timeout.ts';

const STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'failed', 'completed'] as const;
/** No probe of /healthz or /metrics waits longer than this for one backing service. */
export const PROBE_TIMEOUT_MS = 2_000;
/** A key no object has (the sha256 of nothing is not stored by any upload: empty uploads are refused). */
const PROBE_KEY = '0'.repeat(64);

export type ProbeResult = 'ok' | 'unreachable' | 'timeout';

/**
 * /healthz and /metrics (Prometheus text format). Not behind the API token: scrapers and probes.
 * Both answer within about PROBE_TIMEOUT_MS whatever is down. The queues' ioredis connection runs
 * with maxRetriesPerRequest: null (BullMQ needs it), so a command sent while Redis is down waits in
 * the offline queue until Redis is back: no Redis command is sent unless the connection is ready,
 * and every probe has a timeout.
 */
export function opsRouter(deps: { queues: Queues; orchestrator: Orchestrator; store: ArtifactStore; logger: Logger; probeTimeoutMs?: number }): Router {
  const r = Router();
  const { queues, orchestrator, store, logger } = deps;
  const timeoutMs = deps.probeTimeoutMs ?? PROBE_TIMEOUT_MS;
  const last: Record<string, ProbeResult> = {};

  const probe = async (component: string, fn: () => Promise<unknown>): Promise<ProbeResult> => {
    let result: ProbeResult;
    let err: unknown;
    try {
      await withTimeout(fn(), timeoutMs);
      result = 'ok';
    } catch (e) {
      err = e;
      result = e instanceof TimeoutError ? 'timeout' : 'unreachable';
    }
    // Logged when a component's state changes, not on every probe of an outage.
    if (last[component] !== result) {
      if (result === 'ok') logger.info({ component }, 'health probe ok');
      else logger.warn({ component, result, err: err instanceof Error ? err.message : String(err) }, 'health probe failed');
      last[component] = result;
    }
    return result;
  };
  const redisReady = () => queues.connection.status === 'ready';
  const probeRedis = () =>
    probe('redis', async () => {
      if (!redisReady()) throw new Error(`redis connection is ${queues.connection.status}`);
      await queues.connection.ping();
    });
  const probeDb = () => probe('db', () => listDatasets({ limit: 1 }));
  const probeStore = () => probe('store', () => store.has(PROBE_KEY));

  r.get('/healthz', async (_req, res) => {
    const [redis, db, storeState] = await Promise.all([probeRedis(), probeDb(), probeStore()]);
    const ok = redis === 'ok' && db === 'ok' && storeState === 'ok';
    const body: THealth = { status: ok ? 'ok' : 'unavailable', redis, db, store: storeState };
    res.status(ok ? 200 : 503).json(body);
  });

  r.get('/metrics', async (_req, res) => {
    const lines: string[] = [];
    const gauge = (name: string, help: string, type: 'gauge' | 'counter' = 'gauge') => lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    // Queue gauges need Redis: read (with a timeout) only while it answers, else left out.
    const queueCounts = async () => {
      if (!redisReady()) throw new Error('redis not ready');
      const all = await withTimeout(
        Promise.all([
          ...(['shard', 'layer', 'distill'] as const).map(async (kind) => [kind, await queues[kind].getJobCounts(...STATES)] as const),
        ]),
        timeoutMs,
      );
      const workers = await withTimeout(queues.shard.getWorkersCount(), timeoutMs);
      return { all, workers };
    };
    const [q, unfinished] = await Promise.all([
      queueCounts().catch(() => undefined),
      withTimeout(listUnfinishedRuns(), timeoutMs).then(
        (runs) => runs.length,
        () => undefined,
      ),
    ]);
    gauge('cmbn_redis_up', 'Whether the queue gauges could be read from Redis just now (1) or not (0).');
    lines.push(`cmbn_redis_up ${q ? 1 : 0}`);
    gauge('cmbn_db_up', 'Whether Postgres answered just now (1) or not (0).');
    lines.push(`cmbn_db_up ${unfinished === undefined ? 0 : 1}`);
    if (q) {
      gauge('cmbn_queue_jobs', 'Jobs per queue and state (queue depth = waiting + prioritized).');
      for (const [kind, counts] of q.all) for (const s of STATES) lines.push(`cmbn_queue_jobs{queue="${kind}",state="${s}"} ${counts[s] ?? 0}`);
      gauge('cmbn_workers', 'Worker processes connected to the shard queue.');
      lines.push(`cmbn_workers{queue="shard"} ${q.workers}`);
    }
    gauge('cmbn_shards_per_second', 'Shards completed per second over the last minute.');
    lines.push(`cmbn_shards_per_second ${orchestrator.shardRate.perSecond().toFixed(4)}`);
    gauge('cmbn_shards_completed_total', 'Shards completed since this coordinator started.', 'counter');
    lines.push(`cmbn_shards_completed_total ${orchestrator.shardRate.total}`);
    if (unfinished !== undefined) {
      gauge('cmbn_runs_unfinished', 'Runs queued, running or distilling.');
      lines.push(`cmbn_runs_unfinished ${unfinished}`);
    }
    res.type('text/plain; version=0.0.4').send(`${lines.join('\n')}\n`);
  });

  return r;
}
