/**
 * Distributed scaling: trains the same run with 1 and then 2 worker processes (each one compute
 * thread with a single-threaded dense backend) against an in-process coordinator, and reports
 * shards per second for each, their ratio, and the coordinator's overhead per shard.
 *
 *   npm run bench:scaling -- [--json] [--limit 10000] [--V 100] [--shard-size N] [--workers 1,2] [--repeat R] [--hosts]
 *
 * The worker counts are tried R times in turn (--repeat R, default 3: 1, 2, 1, 2, 1, 2); each round gives a
 * ratio, and the reported speedup is their median, so a slow moment on a shared machine skews one
 * round rather than the result.
 *
 * --hosts (issue 9): the workers run on simulated hosts (network namespaces, tests/hosts/netns.ts),
 * each with its own cache, and reach a Redis and an s3rver on a services host only over the bridge;
 * the artifacts are on S3 (s3://). Each round then runs 1 and 2 worker hosts, and the same-host
 * baseline (workers beside the coordinator, the machine's Redis, file://) with the largest worker
 * count, so the network path's overhead = same-host shards/s ÷ hosts shards/s − 1 is measured in
 * the same process run. Targets: 2 hosts ≥ 1.8× the shards/s of 1, overhead ≤ 5 %. Root only.
 *
 * Every trial also reports the cores in use over its layer phase (procfs, bench/cpu-account.ts):
 * the workers', the coordinator's (this process) and the rest of the machine's. On a machine with
 * no more cores than workers, whatever is not a worker takes its cores from the workers.
 *
 * Needs the services of NOTES.md (Redis, Postgres); it creates and drops its own database, queue
 * prefix and artifact directories. Targets (issue 3): 2 workers ≥ 1.8× the shards/s of 1; the
 * coordinator's overhead < 5% of the wall time on MNIST 10k with V=100.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { Redis } from 'ioredis';
import { startS3Server, type S3TestServer } from '@cmbn/artifacts';
import { startCoordinator } from '@cmbn/coordinator';
import { encodeNpy, loadDataset } from '@cmbn/data';
import { createTestDatabase, listShards } from '@cmbn/registry';
import { createNetwork, type Host, type Network } from '../tests/hosts/netns.ts';
import { BUCKET, S3_PORT, startRedisOn, type HostRedis } from '../tests/hosts/services.ts';
import { CpuRecorder } from './cpu-account.ts';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    limit: { type: 'string', default: '10000' },
    V: { type: 'string', default: '100' },
    'shard-size': { type: 'string' },
    workers: { type: 'string', default: '1,2' },
    repeat: { type: 'string', default: '3' },
    seed: { type: 'string', default: '0' },
    hosts: { type: 'boolean', default: false },
  },
});
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const WORKER_MAIN = fileURLToPath(new URL('../apps/worker/src/main.ts', import.meta.url));
const log = (msg: string) => {
  if (!args.json) process.stderr.write(`${msg}\n`);
};

/** The fields of the API's answers this bench reads. */
interface RunJson {
  id: string;
  status: string;
  error?: string;
  modelHash: string;
  layers: { layer: number; k: number; shardsTotal: number; seconds: number | null }[];
  summary: { finishSeconds: number; coordinatorSeconds: number };
}

/** Where a trial's workers run: beside the coordinator with file:// (same-host), or on their own hosts with s3://. */
type Mode = 'same-host' | 'hosts';

/** The simulated hosts of --hosts: a services host (Redis, s3rver) and one host per worker. */
interface HostsEnv {
  net: Network;
  redis: HostRedis;
  s3: S3TestServer;
  workerHosts: Host[];
  stop(): Promise<void>;
}

interface Trial {
  mode: Mode;
  workers: number;
  shards: number;
  wallSeconds: number;
  layerSeconds: number;
  shardsPerSecond: number;
  coordinatorSeconds: number;
  coordinatorOverheadPerShardMs: number;
  coordinatorOverheadFraction: number;
  /** Sum over shards of the worker's compute seconds (the kernel on its compute thread, as reported in the shard's result). */
  workerComputeSeconds: number;
  /**
   * workerComputeSeconds ÷ (workers × layerSeconds): the share of the workers' time spent computing.
   * It splits a slow trial into "computing slower" (contention: the same work took longer) and
   * "waiting" (fetches, puts, queue hand-offs, layer boundaries).
   */
  workerBusyFraction: number;
  /**
   * Cores in use over the layer phase (procfs): the machine's, the worker processes' (every
   * thread), this process's (the coordinator, and the bench's polling), and the rest of the machine
   * (Redis, the S3 server, Postgres, daemons). On a machine with as many cores as workers the
   * coordinator and the rest run on the workers' cores: 2 workers on 2 cores can use at most
   * 2 − coordinatorCores − otherCores, which bounds the speed-up.
   */
  cpu: { machineCores: number; workerCores: number; coordinatorCores: number; otherCores: number };
  finishSeconds: number;
  modelHash: string;
  /** Per layer: its k, shard count (the coordinator's plan) and wall seconds from queueing to assembly. */
  layers: { layer: number; k: number; shards: number; seconds: number | null }[];
}

function startWorker(env: Record<string, string>, host?: Host): Promise<ChildProcess> {
  const [cmd, ...argv] = [...(host?.wrap ?? []), process.execPath, '--import', 'tsx', WORKER_MAIN];
  const proc = spawn(cmd!, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (b: Buffer) => {
      out += b.toString();
      if (out.includes('worker ready')) resolve(proc);
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    // 'close', not 'exit': the exit can come before the last stderr chunk, which holds the reason.
    proc.once('close', (code, signal) => reject(new Error(`worker exited (${code ?? signal}) before it was ready${host ? ` on ${host.name} (${host.ns})` : ''}:\n${out.slice(-2000)}`)));
  });
}

async function startHostsEnv(workers: number): Promise<HostsEnv> {
  const net = await createNetwork(['services', ...Array.from({ length: workers }, (_, i) => `worker${i + 1}`)]);
  const services = net.hosts.services!;
  const dir = await mkdtemp(join(tmpdir(), 'cmbn-bench-hosts-'));
  try {
    const [redis, s3] = await Promise.all([
      startRedisOn(services, join(dir, 'redis'), { aof: false }),
      mkdir(join(dir, 's3'), { recursive: true }).then(() => startS3Server({ host: services.addr, port: S3_PORT, dir: join(dir, 's3'), wrap: services.wrap, buckets: [BUCKET] })),
    ]);
    // The in-process coordinator reads the SDK's standard variables, as the apps do.
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: s3.options().credentials!.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.options().credentials!.secretAccessKey,
      CMBN_S3_FORCE_PATH_STYLE: 'true',
    });
    return {
      net,
      redis,
      s3,
      workerHosts: Object.values(net.hosts).filter((h) => h.name !== 'services'),
      stop: async () => {
        await s3.stop();
        await redis.stop();
        await net.destroy();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await net.destroy();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function dropPrefix(prefix: string, redisUrl = REDIS_URL): Promise<void> {
  const r = new Redis(redisUrl);
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await r.del(...keys);
  } while (cursor !== '0');
  r.disconnect();
}

async function trial(mode: Mode, workers: number, x: Uint8Array, params: Record<string, unknown>, shardSize: number | undefined, hosts?: HostsEnv): Promise<Trial> {
  const db = await createTestDatabase();
  const dir = await mkdtemp(join(tmpdir(), 'cmbn-bench-'));
  const prefix = `cmbnbench-${randomBytes(4).toString('hex')}`;
  if (mode === 'hosts' && hosts === undefined) throw new Error('hosts mode without its hosts');
  const redisUrl = mode === 'hosts' ? hosts!.redis.url : REDIS_URL;
  // Every trial gets a fresh store (a new prefix), so no trial reads what another wrote.
  const artifacts = mode === 'hosts' ? `s3://${BUCKET}/${prefix}` : pathToFileURL(dir).href;
  const coordinator = await startCoordinator({
    databaseUrl: db.url,
    redisUrl,
    artifacts,
    prefix,
    port: 0,
    maxUploadBytes: 1e9,
    logger: pino({ level: process.env.LOG_LEVEL ?? 'silent' }),
  });
  const procs: ChildProcess[] = [];
  try {
    const env = { REDIS_URL: redisUrl, CMBN_ARTIFACTS: artifacts, CMBN_QUEUE_PREFIX: prefix, CMBN_WORKER_CONCURRENCY: '1', CMBN_WORKER_THREADS: '1', LOG_LEVEL: 'info' };
    procs.push(
      ...(await Promise.all(
        Array.from({ length: workers }, async (_, i) => {
          if (mode === 'same-host') return startWorker(env);
          // Its own cache per host: it fetches layer inputs over the network like a second machine.
          const cache = join(dir, `cache-${i}`);
          await mkdir(cache, { recursive: true });
          return startWorker({ ...env, CMBN_WORKER_CACHE: cache }, hosts!.workerHosts[i]);
        }),
      )),
    );
    const call = async (path: string, init?: RequestInit) => {
      const res = await fetch(`${coordinator.url}${path}`, init);
      const body = await res.json();
      if (!res.ok) throw new Error(`${path}: ${JSON.stringify(body)}`);
      return body as RunJson;
    };
    const up = await call('/v1/datasets?name=bench', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: x });
    const cpu = new CpuRecorder(() => ({ workers: procs.map((p) => p.pid!), coordinator: [process.pid] }));
    const t0 = performance.now();
    const sub = await call('/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ datasetId: up.id, params, shardSize }) });
    let run: RunJson;
    for (let wait = 50; ; wait = Math.min(wait * 2, 1000)) {
      run = await call(`/v1/runs/${sub.id}`);
      if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(run.status)) break;
      await new Promise((r) => setTimeout(r, wait));
    }
    const wallSeconds = (performance.now() - t0) / 1000;
    cpu.stop();
    if (run.status !== 'SUCCEEDED') throw new Error(`run ${run.status}: ${run.error}`);
    const shards = run.layers.reduce((a, l) => a + l.shardsTotal, 0);
    let workerComputeSeconds = 0;
    for (const l of run.layers) for (const s of await listShards(sub.id, l.layer)) workerComputeSeconds += s.seconds ?? 0;
    const finishSeconds = run.summary.finishSeconds as number;
    const coordinatorSeconds = run.summary.coordinatorSeconds as number;
    // Shards/s over the layer phase (submission to the top layer assembled), not PCA/k-means.
    const layerSeconds = wallSeconds - finishSeconds;
    const cores = cpu.between(t0, t0 + layerSeconds * 1000);
    return {
      mode,
      workers,
      shards,
      wallSeconds: Number(wallSeconds.toFixed(3)),
      layerSeconds: Number(layerSeconds.toFixed(3)),
      shardsPerSecond: Number((shards / layerSeconds).toFixed(3)),
      coordinatorSeconds,
      coordinatorOverheadPerShardMs: Number(((coordinatorSeconds / shards) * 1000).toFixed(2)),
      coordinatorOverheadFraction: Number((coordinatorSeconds / wallSeconds).toFixed(4)),
      workerComputeSeconds: Number(workerComputeSeconds.toFixed(3)),
      workerBusyFraction: Number((workerComputeSeconds / (workers * layerSeconds)).toFixed(4)),
      cpu: { machineCores: cores.machine, workerCores: cores.groups.workers!, coordinatorCores: cores.groups.coordinator!, otherCores: cores.rest },
      finishSeconds,
      modelHash: run.modelHash as string,
      layers: run.layers.map((l) => ({ layer: l.layer, k: l.k, shards: l.shardsTotal, seconds: l.seconds })),
    };
  } finally {
    await Promise.all(
      procs.map(
        (p) =>
          new Promise<void>((resolve) => {
            p.once('exit', () => resolve());
            p.kill('SIGTERM');
          }),
      ),
    );
    await coordinator.close();
    await db.drop();
    await rm(dir, { recursive: true, force: true });
    await dropPrefix(prefix, redisUrl);
  }
}

const limit = Number(args.limit);
const params = { V: Number(args.V), seed: Number(args.seed) };
const shardSize = args['shard-size'] === undefined ? undefined : Number(args['shard-size']);
const counts = args.workers.split(',').map(Number);
const ds = await loadDataset('mnist', { limit });
const x = encodeNpy(ds.x);
log(`scaling bench: MNIST ${ds.x.rows} points, V=${params.V}, workers ${counts.join(' then ')} (1 thread each), ${cpus().length} cores`);
const rounds = Math.max(1, Number(args.repeat));
const mode: Mode = args.hosts ? 'hosts' : 'same-host';
const maxWorkers = Math.max(...counts);
const hostsEnv = args.hosts ? await startHostsEnv(maxWorkers) : undefined;
if (hostsEnv) log(`  hosts: services ${hostsEnv.redis.url} + ${hostsEnv.s3.endpoint}, workers on ${hostsEnv.workerHosts.map((h) => h.addr).join(', ')}; coordinator in this process`);
const trials: Trial[] = [];
const baselines: Trial[] = [];
const roundSpeedups: number[] = [];
const roundOverheads: number[] = [];
const roundLayerSpeedups: (number | null)[][] = [];
const report = (t: Trial) =>
  log(
    `  ${t.mode} ${t.workers} worker(s): ${t.shards} shards in ${t.layerSeconds}s → ${t.shardsPerSecond} shards/s; ` +
      `coordinator overhead ${t.coordinatorSeconds}s (${t.coordinatorOverheadPerShardMs} ms/shard, ${(t.coordinatorOverheadFraction * 100).toFixed(2)}% of wall ${t.wallSeconds}s); ` +
      `worker compute ${t.workerComputeSeconds}s (busy ${(t.workerBusyFraction * 100).toFixed(1)}%); ` +
      `cores: machine ${t.cpu.machineCores}, workers ${t.cpu.workerCores}, coordinator ${t.cpu.coordinatorCores}, the rest ${t.cpu.otherCores}; PCA+k-means ${t.finishSeconds}s`,
  );
try {
  for (let r = 0; r < rounds; r++) {
    const round: Trial[] = [];
    for (const n of counts) {
      log(`  ${rounds > 1 ? `round ${r + 1}/${rounds}: ` : ''}${mode} ${n} worker(s)…`);
      const t = await trial(mode, n, x, params, shardSize, hostsEnv);
      round.push(t);
      report(t);
    }
    const a = round[0]!;
    const b = round[round.length - 1]!;
    roundSpeedups.push(b.shardsPerSecond / a.shardsPerSecond);
    // Per layer, the first count's seconds over the last's: where the scaling is won or lost.
    roundLayerSpeedups.push(a.layers.map((l, i) => (l.seconds !== null && b.layers[i]?.seconds ? l.seconds / b.layers[i]!.seconds! : null)));
    if (hostsEnv) {
      // The same-host baseline of this round, same worker count as b: what the network path costs.
      log(`  ${rounds > 1 ? `round ${r + 1}/${rounds}: ` : ''}same-host ${b.workers} worker(s) (baseline)…`);
      const base = await trial('same-host', b.workers, x, params, shardSize);
      report(base);
      baselines.push(base);
      roundOverheads.push(base.shardsPerSecond / b.shardsPerSecond - 1);
    }
    trials.push(...round);
  }
} finally {
  await hostsEnv?.stop();
}
const median = (v: number[]): number => {
  const s = [...v].sort((p, q) => p - q);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const first = trials[0]!;
const result = {
  bench: 'scaling',
  mode,
  points: ds.x.rows,
  params,
  cores: cpus().length,
  trials,
  ...(hostsEnv
    ? {
        baselines,
        roundNetworkOverheads: roundOverheads.map((v) => Number(v.toFixed(4))),
        // Median over rounds: same-host shards/s ÷ hosts shards/s − 1, at the largest worker count.
        networkOverhead: Number(median(roundOverheads).toFixed(4)),
      }
    : {}),
  roundSpeedups: roundSpeedups.map((v) => Number(v.toFixed(3))),
  speedup: Number(median(roundSpeedups).toFixed(3)),
  sameModelHash: [...trials, ...baselines].every((t) => t.modelHash === first.modelHash),
  layerSpeedup: first.layers.map((_, i) => {
    const v = roundLayerSpeedups.map((r) => r[i]).filter((x): x is number => x !== null && x !== undefined);
    return v.length > 0 ? Number(median(v).toFixed(3)) : null;
  }),
  maxCoordinatorOverheadFraction: Math.max(...trials.map((t) => t.coordinatorOverheadFraction)),
  // Median over rounds, at the largest worker count: the cores that the coordinator and the rest of the machine took.
  nonWorkerCores: Number(median(trials.filter((t) => t.workers === maxWorkers).map((t) => t.cpu.coordinatorCores + t.cpu.otherCores)).toFixed(3)),
  ...(hostsEnv ? { baselineNonWorkerCores: Number(median(baselines.map((t) => t.cpu.coordinatorCores + t.cpu.otherCores)).toFixed(3)) } : {}),
  targets: { speedup: 1.8, coordinatorOverheadFraction: 0.05, ...(hostsEnv ? { networkOverhead: 0.05 } : {}) },
};
if (args.json) process.stdout.write(`${JSON.stringify(result)}\n`);
else {
  for (const [i, l] of first.layers.entries()) {
    log(`  layer ${l.layer} (k=${l.k}, ${l.shards} shards): ${trials.map((t) => `${t.layers[i]?.seconds ?? '?'}s`).join(' → ')} (${result.layerSpeedup[i] ?? '?'}×)`);
  }
  const rs = rounds > 1 ? ` (median of ${result.roundSpeedups.join(', ')})` : '';
  const where = hostsEnv ? ' worker hosts (s3:// over the bridge)' : ' workers';
  log(`speedup ${counts[counts.length - 1]} vs ${counts[0]}${where}: ${result.speedup}×${rs} (target ≥ 1.8×); same modelHash: ${result.sameModelHash}`);
  log(
    `  with ${maxWorkers} worker(s) the coordinator and the rest of the machine used ${result.nonWorkerCores} of its ${cpus().length} cores` +
      `${hostsEnv ? ` (same-host baseline: ${result.baselineNonWorkerCores})` : ''}, leaving the workers at most ${(cpus().length - result.nonWorkerCores).toFixed(2)}`,
  );
  if (hostsEnv) {
    const ro = rounds > 1 ? ` (median of ${result.roundNetworkOverheads!.map((v) => `${(v * 100).toFixed(1)}%`).join(', ')})` : '';
    log(
      `network overhead vs same-host file:// at ${maxWorkers} workers: ${(result.networkOverhead! * 100).toFixed(1)}%${ro} ` +
        `(ratio same-host/hosts shards/s ${(1 + result.networkOverhead!).toFixed(3)}; target ≤ 5%)`,
    );
  }
}
