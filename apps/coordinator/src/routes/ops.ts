import { Router } from 'express';
import { listDatasets, listUnfinishedRuns } from '@cmbn/registry';
import type { Orchestrator } from '../orchestrator.ts';
import type { Queues } from '../queues.ts';

const STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'failed', 'completed'] as const;

/** /healthz and /metrics (Prometheus text format). Not behind the API token: scrapers and probes. */
export function opsRouter(deps: { queues: Queues; orchestrator: Orchestrator }): Router {
  const r = Router();
  const { queues, orchestrator } = deps;

  r.get('/healthz', async (_req, res) => {
    const checks: Record<string, string> = {};
    await Promise.all([
      queues.connection.ping().then(
        () => (checks.redis = 'ok'),
        (e: Error) => (checks.redis = e.message),
      ),
      listDatasets({ limit: 1 }).then(
        () => (checks.postgres = 'ok'),
        (e: Error) => (checks.postgres = e.message),
      ),
    ]);
    const ok = Object.values(checks).every((v) => v === 'ok');
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'degraded', checks });
  });

  r.get('/metrics', async (_req, res) => {
    const lines: string[] = [];
    const gauge = (name: string, help: string, type: 'gauge' | 'counter' = 'gauge') => lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    gauge('cmbn_queue_jobs', 'Jobs per queue and state (queue depth = waiting + prioritized).');
    for (const [kind, q] of [['shard', queues.shard], ['layer', queues.layer], ['distill', queues.distill]] as const) {
      const counts = await q.getJobCounts(...STATES);
      for (const s of STATES) lines.push(`cmbn_queue_jobs{queue="${kind}",state="${s}"} ${counts[s] ?? 0}`);
    }
    gauge('cmbn_workers', 'Worker processes connected to the shard queue.');
    lines.push(`cmbn_workers{queue="shard"} ${await queues.shard.getWorkersCount()}`);
    gauge('cmbn_shards_per_second', 'Shards completed per second over the last minute.');
    lines.push(`cmbn_shards_per_second ${orchestrator.shardRate.perSecond().toFixed(4)}`);
    gauge('cmbn_shards_completed_total', 'Shards completed since this coordinator started.', 'counter');
    lines.push(`cmbn_shards_completed_total ${orchestrator.shardRate.total}`);
    gauge('cmbn_runs_unfinished', 'Runs queued, running or distilling.');
    lines.push(`cmbn_runs_unfinished ${(await listUnfinishedRuns()).length}`);
    res.type('text/plain; version=0.0.4').send(`${lines.join('\n')}\n`);
  });

  return r;
}
