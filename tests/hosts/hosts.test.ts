/**
 * `npm run test:hosts`: cmbn deployed on simulated hosts (network namespaces, see deployment.ts),
 * trained by the real CLI (`cmbn train --remote`) on MNIST's first 10,000 training digits with
 * V=100, once per infrastructure fault injected mid-layer. Every run must SUCCEED with the modelHash
 * of local training (bit-identical), every layer with all its shards counted, and no process may
 * need a manual restart. The fault table is printed and written to .cmbn-hosts/faults.json.
 *
 * This suite fails, never skips, when it cannot build namespaces or start a service.
 * Dev knobs (CI leaves them unset): CMBN_HOSTS_LIMIT / CMBN_HOSTS_V (smaller runs),
 * CMBN_HOSTS_FAULTS=link,redis,postgres,coordinator,s3 (a subset, in that order).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliResult, cmbn } from './apps.ts';
import { COORDINATOR_LOCK_MS, deploy, WORKER_LOCK_MS, type Deployment } from './deployment.ts';
import { until } from './procs.ts';
import { formatTable, writeReport, type FaultRow } from './report.ts';
import { getRun, newestRunId, shardDoneTimes, watchRun } from './run-watch.ts';

const LIMIT = Number(process.env.CMBN_HOSTS_LIMIT ?? '10000');
const V = Number(process.env.CMBN_HOSTS_V ?? '100');
const SEED = 1;
const FLAGS = ['--dataset', 'mnist-train', '--limit', String(LIMIT), '--V', String(V), '--seed', String(SEED)];
/** Longer than the worker's shard lock and the layer job's 2 s + 4 s backoff. */
const OUTAGE_MS = 20_000;
/** The brief's Postgres outage: restarted after about 15 s (still longer than lock and backoff). */
const PG_OUTAGE_MS = 15_000;
/** Layer-1 shards done before the fault: it comes while shards are running, not between layers. */
const TRIGGER_SHARDS = 4;
const RUN_TIMEOUT_MS = 25 * 60_000;

type FaultKey = 'link' | 'redis' | 'postgres' | 'coordinator' | 's3';
interface Fault {
  key: FaultKey;
  name: string;
  /** Injects the fault and ends it; returns when it ended (epoch ms) and how long it lasted. */
  inject(d: Deployment): Promise<{ restoredAt: number; outageMs: number }>;
}

const outage = async (begin: () => Promise<void>, ms: number, end: () => Promise<void>) => {
  await begin();
  const t0 = Date.now();
  await sleep(ms); // the outage itself: fault injection, not a wait on a condition
  await end();
  return { restoredAt: Date.now(), outageMs: Date.now() - t0 };
};

const FAULTS: Fault[] = [
  { key: 'link', name: 'worker1 link down (ip link set … down), then up', inject: (d) => outage(() => d.net.linkDown('worker1'), OUTAGE_MS, () => d.net.linkUp('worker1')) },
  { key: 'redis', name: 'Redis SIGKILLed, restarted from its AOF', inject: (d) => outage(() => d.svc.redis.kill(), OUTAGE_MS, () => d.svc.redis.start()) },
  { key: 'postgres', name: 'Postgres pg_ctl stop -m immediate, restarted', inject: (d) => outage(() => d.svc.postgres.stopImmediate(), PG_OUTAGE_MS, () => d.svc.postgres.start()) },
  { key: 'coordinator', name: 'coordinator SIGKILLed, restarted on its address', inject: (d) => outage(() => d.killCoordinator(), OUTAGE_MS, () => d.startCoordinator()) },
  { key: 's3', name: 's3rver SIGKILLed, restarted on the same dir', inject: (d) => outage(() => d.svc.s3.kill(), OUTAGE_MS, () => d.svc.s3.start()) },
];
const wanted = process.env.CMBN_HOSTS_FAULTS?.split(',').map((s) => s.trim());
const selected = FAULTS.filter((f) => wanted === undefined || wanted.includes(f.key));

let d: Deployment | undefined;
let localHash: string | null = null;
let localSeconds: number | null = null;
const rows: FaultRow[] = [];
const seenRuns = new Set<string>();

/** `cmbn train` on this machine, the same flags: the modelHash every remote run must reproduce. */
async function localTrain(): Promise<{ modelHash: string; seconds: number }> {
  const out = await mkdtemp(join(tmpdir(), 'cmbn-hosts-local-'));
  const t0 = Date.now();
  try {
    const res = await cliResult(cmbn(undefined, 'local cmbn train', ['train', ...FLAGS, '--json', '--no-progress', '--out', join(out, 'model')]), RUN_TIMEOUT_MS);
    if (res.code !== 0) throw new Error(`local cmbn train exited ${res.code}: ${res.stderr.slice(-2000)}`);
    return { modelHash: (JSON.parse(res.stdout) as { modelHash: string }).modelHash, seconds: (Date.now() - t0) / 1000 };
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  // Local training and the deployment's start-up overlap; both must succeed.
  const [local, dep] = await Promise.allSettled([localTrain(), deploy()]);
  if (dep.status === 'fulfilled') d = dep.value;
  if (local.status === 'fulfilled') ({ modelHash: localHash, seconds: localSeconds } = local.value);
  if (local.status === 'rejected') throw local.reason;
  if (dep.status === 'rejected') throw dep.reason;
}, RUN_TIMEOUT_MS + 300_000);

afterAll(async () => {
  const report = {
    suite: 'hosts' as const,
    date: new Date().toISOString(),
    dataset: `mnist-train --limit ${LIMIT}`,
    params: { V, seed: SEED },
    localModelHash: localHash,
    localSeconds,
    topology: Object.fromEntries(Object.values(d?.net.hosts ?? {}).map((h) => [h.name, h.addr])),
    settings: { workerLockMs: WORKER_LOCK_MS, coordinatorLockMs: COORDINATOR_LOCK_MS, outageMs: OUTAGE_MS, pgOutageMs: PG_OUTAGE_MS, triggerShards: TRIGGER_SHARDS },
    rows,
  };
  const file = await writeReport(report);
  process.stdout.write(`\nhosts suite: MNIST ${LIMIT}, V=${V}, seed ${SEED}; local modelHash ${localHash ?? '—'} (${localSeconds?.toFixed(0) ?? '—'} s)\n${formatTable(rows)}\n(${file})\n`);
  await d?.stop();
}, 120_000);

async function faultRun(f: Fault): Promise<void> {
  if (d === undefined || localHash === null) throw new Error('the deployment did not start (see beforeAll)');
  const dep = d;
  const row: FaultRow = { fault: f.name, outcome: 'not finished', ok: false, outageSeconds: null, recoverySeconds: null, atShards: '—', runSeconds: null };
  if (f.key === 'link') row.hostBackSeconds = null;
  rows.push(row);
  const out = await mkdtemp(join(tmpdir(), 'cmbn-hosts-client-'));
  const t0 = Date.now();
  const cli = cmbn(dep.host('client'), 'cmbn train --remote', ['train', '--remote', dep.coordinatorUrl, ...FLAGS, '--json', '--no-progress', '--out', join(out, 'model'), '--reconnect-timeout', '900']);
  let watch: ReturnType<typeof watchRun> | undefined;
  try {
    const runId = await until('the CLI to submit its run', async () => (cli.alive() ? newestRunId(dep.svc.postgres.url, seenRuns) : Promise.reject(new Error(`CLI exited: ${cli.stderr().slice(-2000)}`))), 300_000, 250);
    seenRuns.add(runId);
    watch = watchRun(dep.coordinatorUrl, runId);
    const w = watch;
    const at = await until(`${TRIGGER_SHARDS} shards of layer 1 done`, async () => {
      const l1 = w.last()?.layers[0];
      return l1 !== undefined && l1.shardsDone >= TRIGGER_SHARDS ? l1 : undefined;
    }, RUN_TIMEOUT_MS, 100);
    row.atShards = `${at.shardsDone}/${at.shardsTotal}`;
    expect(at.shardsDone, 'the fault must come mid-layer').toBeLessThan(at.shardsTotal);

    const { restoredAt, outageMs } = await f.inject(dep);
    row.outageSeconds = outageMs / 1000;
    const res = await cliResult(cli, RUN_TIMEOUT_MS);
    row.runSeconds = (Date.now() - t0) / 1000;
    row.recoverySeconds = watch.recoverySeconds(restoredAt);
    if (f.key === 'link') {
      const back = shardDoneTimes(dep.workers[0]!.output()).find((t) => t > restoredAt);
      row.hostBackSeconds = back === undefined ? null : (back - restoredAt) / 1000;
    }
    expect(res.code, `cmbn train --remote exited ${res.code}:\n${res.stderr.slice(-3000)}`).toBe(0);
    const summary = JSON.parse(res.stdout) as { modelHash: string; runId: string };
    expect(summary.runId).toBe(runId);
    expect(summary.modelHash, 'bit-identical to local training').toBe(localHash);
    const final = await until('the final run view', () => getRun(dep.coordinatorUrl, runId), 30_000);
    expect(final.status).toBe('SUCCEEDED');
    // No finished shard lost: every layer counts all its shards.
    expect(final.layers.map((l) => l.shardsDone)).toEqual(final.layers.map((l) => l.shardsTotal));
    for (const p of dep.longLived()) expect(p.alive(), `${p.name} is still running (no manual restart)`).toBe(true);
    for (const p of [...dep.longLived(), cli]) expect(p.output(), p.name).not.toMatch(/Unhandled error event/);
    if (f.key === 'link') expect(row.hostBackSeconds, 'worker1 computes shards again after its link is back').not.toBeNull();
    row.outcome = 'SUCCEEDED, local modelHash';
    row.ok = true;
  } catch (err) {
    row.outcome = `FAILED: ${(err as Error).message.split('\n')[0]!.slice(0, 200)}`;
    throw err;
  } finally {
    watch?.stop();
    await cli.kill();
    await rm(out, { recursive: true, force: true });
  }
}

describe(`cmbn on simulated hosts: MNIST ${LIMIT}, V=${V}, faults mid-layer`, () => {
  it('has at least one fault selected', () => expect(selected.length).toBeGreaterThan(0));
  for (const f of selected) it(f.name, () => faultRun(f), RUN_TIMEOUT_MS + 120_000);
});
