/**
 * Paper scale (issue 10): MBN on all 70,000 MNIST digits (60k train + 10k test) with the toolbox
 * defaults (V=400, a=0.5, delta=0.5, c=10, k1=min(N/2, 1e8/N)), seeds 1, 2, 3.
 *
 *   npm run bench:paper -- [--json] [--seeds 1,2,3] [--n 70000] [--starts 20] [--remote | --remote-only] [--workers 2]
 *                          [--mem-log DIR] [--out FILE] [--params JSON]
 *
 * Per seed: ACC/NMI/ARI of the default output step and of every output step on the same top code
 * (the variants differ only in that last step), a kNN probe and single-start k-means runs on each
 * embedding (objective against ACC), the confusion matrix, per-layer seconds, MBN and total
 * seconds, peak RSS, model bytes and load time. The floor: the bottom layer's FLOP
 * 2·N·V·k1·round(a·784) at numpy's sgemm rate for that shape (python3 -c), or, without numpy, at
 * the OpenBLAS addon's raw sgemm (`npm run build:blas`) run on every core at the same shape, measured
 * before and after each seed in this run (each run's sgemmSources says which); the ratio is MBN
 * seconds / floor (target ≤ 1.8). Each sparse layer against its own bound: the score increments
 * the trainer counted, at the kernel's increment rate measured at that layer's shape after the seed
 * (bench/sparse-bound.ts). A progress line per stage goes to stderr.
 * --remote: then starts its own coordinator process (a fresh database, queue prefix and artifact
 * directory) and --workers worker processes, runs the same seeds through them and checks each
 * modelHash equals the local one (a mismatch, or a remote run that ends FAILED or CANCELLED, makes
 * the bench exit 1 after its report); reports the coordinator's and the workers' peak RSS (VmHWM), and
 * the coordinator's peak RSS in each phase of a run (upload, layer l, finish), sampled from
 * /proc every 200 ms. --remote-only: the remote runs alone (no local seeds, so no hash check).
 * --mem-log DIR: the coordinator and the workers also write their process.memoryUsage() every
 * 250 ms to DIR/<role>.jsonl (bench/mem-sampler.mjs), to tell heap from ArrayBuffers.
 * --params JSON: MBN params over the defaults for every run, local and remote (for example
 * '{"k1":2856}', '{"V":800}', '{"kernel":"linear"}'), to measure variants of the embedding; the
 * floor is then the bottom layer's FLOP under those params.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { encodeNpy, loadDataset } from '@cmbn/data';
import { blasAddonPath, loadBlasAddon } from '@cmbn/kernels';
import { clusteringMetrics, confusionMatrix } from '@cmbn/metrics';
import { defaultShardSize, fitOutputStep, keptCount, kmeans, kmeansRestartStudy, knnProbe, loadModel, OUTPUT_STEPS, projectCodes, resolveKs, saveModel, parseParams, trainMbn } from '@cmbn/mbn';
import { createTestDatabase } from '@cmbn/registry';
import { incrementRate } from './sparse-bound.ts';
import { timedRounds } from './worker-rounds.ts';

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    seeds: { type: 'string', default: '1,2,3' },
    n: { type: 'string' },
    starts: { type: 'string', default: '20' },
    remote: { type: 'boolean', default: false },
    workers: { type: 'string', default: '2' },
    'remote-only': { type: 'boolean', default: false },
    'mem-log': { type: 'string' },
    /** append each seed's result as one JSON line as soon as it is done */
    out: { type: 'string' },
    /** MBN params over the defaults (a JSON object), for every run */
    params: { type: 'string', default: '{}' },
  },
});
const progress = (msg: string) => process.stderr.write(`[paper ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const r4 = (x: number) => Number(x.toFixed(4));
const r2 = (x: number) => Number(x.toFixed(2));

const SGEMM_ROWS = 8192;
type SgemmSource = 'numpy' | 'openblas-addon';

/** The floor's sgemm GFLOP/s at (8192×m)·(m×k): numpy's, or the OpenBLAS addon's without numpy; null with neither. */
async function sgemmRate(m: number, k: number): Promise<{ gflops: number; source: SgemmSource } | null> {
  const np = numpySgemmGflops(m, k);
  if (np !== null) return { gflops: np, source: 'numpy' };
  const ob = await addonSgemmGflops(m, k);
  return ob === null ? null : { gflops: ob, source: 'openblas-addon' };
}

/** numpy sgemm GFLOP/s at (rows×m)·(m×k), the median of 7 timed products; null without numpy. */
function numpySgemmGflops(m: number, k: number): number | null {
  const rows = SGEMM_ROWS;
  const py = `
import time, numpy as np
rng = np.random.default_rng(0)
x = rng.integers(0, 256, size=(${rows}, ${m})).astype(np.float32)
c = rng.integers(0, 256, size=(${m}, ${k})).astype(np.float32)
np.dot(x, c)
ts = []
for _ in range(7):
    t0 = time.perf_counter(); np.dot(x, c); ts.append(time.perf_counter() - t0)
ts.sort(); print(ts[3])
`;
  const r = spawnSync('python3', ['-c', py], { encoding: 'utf8', timeout: 300_000 });
  const t = Number(r.stdout?.trim());
  return r.status === 0 && t > 0 ? (2 * rows * m * k) / t / 1e9 : null;
}

/**
 * The OpenBLAS addon's raw sgemm at the same (8192×m)·(m×k) product, the median of 7: the addon holds
 * OpenBLAS at one thread, so the rows are split over one worker thread per core (as numpy's
 * multithreaded OpenBLAS would use every core), each calling sgemm on its share, timed from the start
 * signal to the last one done. null when the addon is not built (or not usable here).
 */
async function addonSgemmGflops(m: number, k: number): Promise<number | null> {
  try {
    loadBlasAddon(); // the same checks (built, interface version, not OpenMP) as the trainer's backend
  } catch {
    return null;
  }
  const threads = availableParallelism();
  // uint8-valued float32 like numpy's inputs, from a per-thread LCG; sgemm's speed does not depend on them
  const body = `
const { parentPort, workerData: w } = require('node:worker_threads');
const addon = require(w.path);
const x = new Float32Array(w.rows * w.m), c = new Float32Array(w.m * w.k), out = new Float32Array(w.rows * w.k);
let s = w.seed >>> 0;
const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 24);
for (let i = 0; i < x.length; i++) x[i] = next();
for (let i = 0; i < c.length; i++) c[i] = next();
const run = () => addon.sgemm(false, false, w.rows, w.k, w.m, 1, x, c, 0, out);
run();
parentPort.on('message', () => { run(); parentPort.postMessage('done'); });
parentPort.postMessage('ready');
`;
  const workers = Array.from({ length: threads }, (_, i) => {
    const rows = Math.floor((SGEMM_ROWS * (i + 1)) / threads) - Math.floor((SGEMM_ROWS * i) / threads);
    return new Worker(body, { eval: true, workerData: { path: blasAddonPath(), rows, m, k, seed: i + 1 } });
  });
  try {
    const ts = (await timedRounds(workers, 7)).map((r) => r.seconds);
    ts.sort((a, b) => a - b);
    return (2 * SGEMM_ROWS * m * k) / ts[3]! / 1e9;
  } catch {
    return null;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

const ds = await loadDataset('mnist', args.n ? { limit: Number(args.n) } : {});
const n = ds.x.rows;
const truth = ds.labels!;
const seeds = args.seeds.split(',').map(Number);
function paramsArg(text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`--params is not JSON: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('--params must be a JSON object');
  if ('seed' in parsed) throw new Error('--params must not set seed: use --seeds');
  return parsed as Record<string, unknown>;
}
const overrides = paramsArg(args.params);
// Validated here, before minutes of loading and training, with the same schema as every run.
const runParams = parseParams(overrides);
const ks = resolveKs(n, runParams);
const m1 = keptCount(ds.x.cols, runParams.a);
const floorFlop = 2 * n * runParams.V * ks[0]! * m1;
// kNN probe: the 60k training digits label the 10k test digits (at a smaller --n: the first 6/7).
const trainN = n === 70_000 ? 60_000 : Math.floor((n * 6) / 7);
const starts = Number(args.starts);
progress(`MNIST ${n} points, ${Object.keys(overrides).length > 0 ? `params ${JSON.stringify(overrides)} over the defaults` : 'defaults'}: V=${runParams.V} a=${runParams.a} c=${runParams.clusters} kernel ${runParams.kernel}, ks ${ks.join(',')}; seeds ${seeds.join(',')}`);

interface VariantResult {
  step: string;
  acc: number;
  nmi: number;
  ari: number;
  knnAcc: number;
  fitSeconds: number;
  /** single-start k-means runs sorted by objective: ACC of the best objective, min/max ACC over starts */
  starts: { count: number; bestObjectiveAcc: number; minAcc: number; maxAcc: number; meanAcc: number; accObjectiveCorrelation: number };
  confusion: number[][];
}

function correlation(a: number[], b: number[]): number {
  const ma = a.reduce((s, x) => s + x, 0) / a.length;
  const mb = b.reduce((s, x) => s + x, 0) / b.length;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < a.length; i++) {
    sab += (a[i]! - ma) * (b[i]! - mb);
    saa += (a[i]! - ma) ** 2;
    sbb += (b[i]! - mb) ** 2;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : 0;
}

interface SeedRun {
  seed: number;
  outputStep: string;
  acc: number;
  nmi: number;
  ari: number;
  layerSeconds: number[];
  mbnSeconds: number;
  totalSeconds: number;
  sgemmGflops: number[];
  /** where each sgemmGflops entry came from */
  sgemmSources: SgemmSource[];
  floorSeconds: number | null;
  mbnOverFloor: number | null;
  /** layers 2..L against the bound of their integer work (sparse-bound.ts) */
  sparseLayers: SparseLayerRow[];
  peakRssBytes: number;
  modelBytes: number;
  modelHash: string;
  loadSeconds: number;
  variants: (VariantResult | { step: string; error: string })[];
}

interface SparseLayerRow {
  layer: number;
  k: number;
  seconds: number;
  /** the score increments the trainer counted in this layer */
  increments: number;
  incrementsPerPointClustering: number;
  /** the kernel's increments per second at this layer's shape, every core together */
  incrementRate: number;
  boundSeconds: number;
  overBound: number;
}

/** Each sparse layer of a local run against its bound, the rates measured now, at each layer's shape. */
async function sparseLayerRows(r: { ks: number[]; layerSeconds: number[]; layerIncrements?: number[]; params: { V: number; a: number } }): Promise<SparseLayerRow[]> {
  const rows: SparseLayerRow[] = [];
  const width = defaultShardSize(r.params.V, availableParallelism()); // trainMbn's shards
  for (let l = 1; l < r.ks.length; l++) {
    const increments = r.layerIncrements?.[l];
    if (increments === undefined) throw new Error('the trainer did not count its sparse increments');
    const rate = await incrementRate(r.params.V, r.ks[l]!, width, r.params.a);
    const boundSeconds = increments / rate.perSecond;
    rows.push({
      layer: l + 1,
      k: r.ks[l]!,
      seconds: r2(r.layerSeconds[l]!),
      increments,
      incrementsPerPointClustering: r2(increments / (n * r.params.V)),
      incrementRate: Math.round(rate.perSecond),
      boundSeconds: r2(boundSeconds),
      overBound: r2(r.layerSeconds[l]! / boundSeconds),
    });
  }
  return rows;
}

const runs: SeedRun[] = [];
const floorRates: number[] = [];
const remote = args.remote || args['remote-only'];
for (const seed of args['remote-only'] ? [] : seeds) {
  const t0 = performance.now();
  progress(`seed ${seed}: measuring the sgemm floor (${SGEMM_ROWS}×${m1}·${m1}×${ks[0]})`);
  const before = await sgemmRate(m1, ks[0]!);
  let lastLayer = 0;
  let layerStart = 0;
  let lastLine = 0;
  let lastDone = 0;
  let shardWidth = 0;
  const r = await trainMbn(ds.x, { ...overrides, seed }, {
    onProgress: (p) => {
      const now = performance.now();
      if (p.stage === 'layer' && p.layer !== lastLayer) {
        lastLayer = p.layer;
        layerStart = lastLine = now;
        lastDone = shardWidth = 0;
        progress(`seed ${seed}: layer ${p.layer}/${p.layers} (k=${p.k})`);
      } else if (p.stage === 'layer' && p.done > lastDone) {
        shardWidth ||= p.done - lastDone; // the first shard's width: the layer's shards are equal but for the last
        lastDone = p.done;
        if (p.done < p.total && now - lastLine >= 60_000) {
          // A bottom layer with a large k1 runs for an hour here: a line a minute, with its ETA. The
          // trainer's threads (availableParallelism) each compute one shard at a time, so when one
          // finishes the others are part way through theirs: counting them as half done, not as
          // nothing, is what keeps the first estimates from being up to threads× too long (the
          // first ETA of a 2-thread k1 = 20000 layer read 94 min for a 50-minute layer).
          lastLine = now;
          const inFlight = Math.min(availableParallelism() * shardWidth, p.total - p.done);
          const work = p.done + inFlight / 2;
          const eta = ((now - layerStart) / work) * (p.total - work);
          progress(`seed ${seed}: layer ${p.layer}/${p.layers}: ${p.done}/${p.total} ${p.unit ?? 'clusterings'} done, ~${Math.round(eta / 60_000)} min left in this layer`);
        }
      } else if (p.stage !== 'layer') progress(`seed ${seed}: ${p.stage}`);
    },
  });
  const after = await sgemmRate(m1, ks[0]!);
  const measured = [before, after].filter((x) => x !== null);
  const rates = measured.map((x) => x.gflops);
  const sources = measured.map((x) => x.source);
  floorRates.push(...rates);
  const rate = rates.length > 0 ? rates.reduce((s, x) => s + x, 0) / rates.length : null;
  const floorSeconds = rate === null ? null : floorFlop / (rate * 1e9);
  const sourceText = sources.length > 0 ? [...new Set(sources)].join('+') : 'no numpy and no OpenBLAS addon';
  progress(`seed ${seed}: MBN ${r.mbnSeconds.toFixed(1)} s (layers ${r.layerSeconds.map((s) => s.toFixed(1)).join(', ')}); floor ${floorSeconds?.toFixed(1) ?? 'n/a'} s at ${rate?.toFixed(0) ?? '?'} GFLOP/s (${sourceText})`);
  progress(`seed ${seed}: measuring the sparse kernel's increment rate at each upper layer's shape`);
  const sparseLayers = await sparseLayerRows(r);
  progress(`seed ${seed}: sparse layers / their bound: ${sparseLayers.map((x) => `${x.layer}: ${x.seconds} s / ${x.boundSeconds} s = ${x.overBound}x`).join(', ')}`);

  const dir = await mkdtemp(join(tmpdir(), 'cmbn-paper-'));
  const saved = await saveModel(dir, r.modelBytes);
  const tl = performance.now();
  const loaded = await loadModel(dir);
  const loadSeconds = (performance.now() - tl) / 1000;
  await rm(dir, { recursive: true, force: true });
  if (loaded.modelHash !== r.modelHash) throw new Error('saved model does not hash to its modelHash');

  const main = clusteringMetrics(truth, r.labels);
  const variants: (VariantResult | { step: string; error: string })[] = [];
  for (const step of OUTPUT_STEPS) {
    progress(`seed ${seed}: output step ${step}`);
    // One failing probe must not lose the seed's training numbers (a 70k seed is many minutes).
    try {
    const tf = performance.now();
    // The trained model's own step is not refitted: its embedding and labels are training's.
    const own = step === r.params.outputStep;
    const pca = own ? r.model.pca : fitOutputStep(r.topCode, step, runParams.clusters, seed);
    const emb = own ? r.embedding : projectCodes(r.topCode, pca);
    const labels = own ? r.labels : kmeans(emb, n, pca.c, runParams.clusters, { seed, restarts: runParams.kmeansRestarts }).labels;
    const fitSeconds = (performance.now() - tf) / 1000;
    const met = clusteringMetrics(truth, labels);
    const study = kmeansRestartStudy(emb, n, pca.c, runParams.clusters, truth, starts, 1000 * seed);
    const cm = confusionMatrix(truth, labels);
    variants.push({
      step,
      acc: r4(met.acc),
      nmi: r4(met.nmi),
      ari: r4(met.ari),
      knnAcc: r4(knnProbe(emb, n, pca.c, truth, trainN)),
      fitSeconds: r2(fitSeconds),
      starts: {
        count: starts,
        bestObjectiveAcc: r4(study[0]!.acc),
        minAcc: r4(Math.min(...study.map((s) => s.acc))),
        maxAcc: r4(Math.max(...study.map((s) => s.acc))),
        meanAcc: r4(study.reduce((s, x) => s + x.acc, 0) / study.length),
        accObjectiveCorrelation: r4(correlation(study.map((s) => s.inertia), study.map((s) => s.acc))),
      },
      confusion: Array.from({ length: cm.rows }, (_, i) => Array.from(cm.counts.subarray(i * cm.cols, (i + 1) * cm.cols))),
    });
    const v = variants[variants.length - 1] as VariantResult;
    progress(`seed ${seed}: ${step}: acc ${v.acc} nmi ${v.nmi} knn ${v.knnAcc}; ${starts} single starts acc ${v.starts.minAcc}..${v.starts.maxAcc}, best-objective ${v.starts.bestObjectiveAcc}`);
    } catch (err) {
      variants.push({ step, error: String(err) });
      progress(`seed ${seed}: ${step} FAILED: ${String(err)}`);
    }
  }
  const rssBytes = process.resourceUsage().maxRSS * 1024;
  runs.push({
    seed,
    outputStep: r.params.outputStep,
    acc: r4(main.acc),
    nmi: r4(main.nmi),
    ari: r4(main.ari),
    layerSeconds: r.layerSeconds.map(r2),
    mbnSeconds: r2(r.mbnSeconds),
    totalSeconds: r2((performance.now() - t0) / 1000),
    sgemmGflops: rates.map(r2),
    sgemmSources: sources,
    floorSeconds: floorSeconds === null ? null : r2(floorSeconds),
    mbnOverFloor: floorSeconds === null ? null : r2(r.mbnSeconds / floorSeconds),
    sparseLayers,
    peakRssBytes: rssBytes,
    modelBytes: saved.modelBytes,
    modelHash: r.modelHash,
    loadSeconds: r2(loadSeconds),
    variants,
  });
  if (args.out) appendFileSync(args.out, `${JSON.stringify(runs[runs.length - 1])}\n`);
  progress(`seed ${seed}: acc ${main.acc.toFixed(4)} nmi ${main.nmi.toFixed(4)} ari ${main.ari.toFixed(4)}, model ${(saved.modelBytes / 1e6).toFixed(1)} MB (load ${loadSeconds.toFixed(2)} s), peak RSS ${(rssBytes / 2 ** 30).toFixed(2)} GiB`);
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const summary = {
  bench: 'paper',
  points: n,
  params: runParams,
  ks,
  floorFlop,
  runs,
  meanAcc: r4(mean(runs.map((r) => r.acc))),
  meanNmi: r4(mean(runs.map((r) => r.nmi))),
  meanAri: r4(mean(runs.map((r) => r.ari))),
  variantMeans: OUTPUT_STEPS.map((step) => {
    const vs = runs.map((r) => r.variants.find((v) => v.step === step)).filter((v): v is VariantResult => v !== undefined && 'acc' in v);
    return { step, seeds: vs.length, acc: r4(mean(vs.map((v) => v.acc))), nmi: r4(mean(vs.map((v) => v.nmi))), knnAcc: r4(mean(vs.map((v) => v.knnAcc))) };
  }),
  targets: { meanAcc: 0.966, mbnOverFloor: 1.8, modelBytes: 180e6 },
  remote: remote ? await remoteRuns() : undefined,
};
progress(`mean acc ${summary.meanAcc} nmi ${summary.meanNmi} ari ${summary.meanAri}; MBN/floor ${runs.map((r) => r.mbnOverFloor).join(', ')}`);
if (args.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
// --remote is a check: a remote model that differs from the local one, or a remote run that did not
// succeed, fails the bench (after its report), so a script or CI step sees it.
const remoteBad = (summary.remote?.runs ?? []).filter((r) => r.status !== 'SUCCEEDED' || r.sameModelHash === false);
if (remoteBad.length > 0) {
  const why = remoteBad.map((r) => `seed ${r.seed} ${r.status !== 'SUCCEEDED' ? String(r.status) : 'modelHash differs from the local run'}`);
  process.stderr.write(`paper bench: remote check failed: ${why.join('; ')}\n`);
  process.exitCode = 1;
}

/** Peak (VmHWM) or current (VmRSS) RSS of a process, in bytes. */
function procRss(pid: number, field: 'VmHWM' | 'VmRSS' = 'VmHWM'): number | null {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}
function peakRss(pid: number): number | null {
  return procRss(pid, 'VmHWM');
}

/** Samples a process's RSS every 200 ms and keeps the peak of each phase the caller names. */
function phaseSampler(pid: number) {
  const peaks = new Map<string, number>();
  let phase = 'start';
  const sample = () => {
    const rss = procRss(pid, 'VmRSS');
    if (rss !== null) peaks.set(phase, Math.max(peaks.get(phase) ?? 0, rss));
  };
  const timer = setInterval(sample, 200);
  return {
    set(p: string) {
      sample();
      phase = p;
    },
    stop(): Record<string, number> {
      sample();
      clearInterval(timer);
      return Object.fromEntries(peaks);
    },
  };
}

/** A run's phase from GET /v1/runs/:id: its status, the first layer not yet assembled, or 'finish' (PCA, k-means, model). */
function runPhase(run: Record<string, unknown>, layers: number): string {
  if (run.status !== 'RUNNING') return String(run.status).toLowerCase();
  const rows = (run.layers as { layer: number; status: string }[] | undefined) ?? [];
  const open = rows.find((l) => l.status !== 'DONE');
  if (open) return `layer ${open.layer}`;
  return rows.length >= layers ? 'finish' : `layer ${rows.length + 1}`;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function startProcess(main: string, env: Record<string, string>, ready: string, memLog?: string): Promise<ChildProcess> {
  const sampler = memLog ? ['--import', fileURLToPath(new URL('./mem-sampler.mjs', import.meta.url))] : [];
  const proc = spawn(process.execPath, [...sampler, '--import', 'tsx', main], {
    env: { ...process.env, ...env, ...(memLog ? { CMBN_MEM_LOG: memLog } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (b: Buffer) => {
      out = (out + b.toString()).slice(-4000);
      if (out.includes(ready)) resolve(proc);
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`${main} exited (${code}) before it was ready:\n${out}`)));
  });
}

async function remoteRuns() {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const db = await createTestDatabase();
  const dir = await mkdtemp(join(tmpdir(), 'cmbn-paper-remote-'));
  const prefix = `cmbnpaper-${randomBytes(4).toString('hex')}`;
  const port = await freePort();
  // info: the workers announce themselves with an info line ('worker ready'), which this waits for.
  const common = { REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', CMBN_ARTIFACTS: pathToFileURL(dir).href, CMBN_QUEUE_PREFIX: prefix, LOG_LEVEL: 'info' };
  const procs: ChildProcess[] = [];
  try {
    progress(`remote: coordinator on port ${port} and ${args.workers} worker process(es)`);
    if (args['mem-log']) await mkdir(args['mem-log'], { recursive: true });
    const memLog = (role: string) => (args['mem-log'] ? join(args['mem-log'], `${role}.jsonl`) : undefined);
    const coord = await startProcess(join(root, 'apps/coordinator/src/main.ts'), { ...common, DATABASE_URL: db.url, PORT: String(port), HOST: '127.0.0.1' }, 'listening on port', memLog('coordinator'));
    procs.push(coord);
    const workers = await Promise.all(
      Array.from({ length: Number(args.workers) }, (_, i) => startProcess(join(root, 'apps/worker/src/main.ts'), common, 'worker ready', memLog(`worker-${i + 1}`))),
    );
    procs.push(...workers);
    const coordinatorIdleRssBytes = procRss(coord.pid!, 'VmRSS');
    const phases = phaseSampler(coord.pid!);
    phases.set('upload');
    const url = `http://127.0.0.1:${port}`;
    const call = async (path: string, init?: RequestInit) => {
      const res = await fetch(`${url}${path}`, init);
      const body = (await res.json()) as Record<string, unknown>;
      if (!res.ok) throw new Error(`${path}: ${JSON.stringify(body)}`);
      return body;
    };
    const up = await call('/v1/datasets?name=paper', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: encodeNpy(ds.x) });
    const out = [];
    for (const seed of seeds) {
      const t0 = performance.now();
      phases.set(`seed ${seed} queued`);
      const sub = await call('/v1/runs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ datasetId: up.id, params: { ...overrides, seed } }) });
      progress(`remote seed ${seed}: run ${String(sub.id)}`);
      let run: Record<string, unknown>;
      let last = '';
      for (;;) {
        run = await call(`/v1/runs/${String(sub.id)}`);
        phases.set(`seed ${seed} ${runPhase(run, ks.length)}`);
        if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(String(run.status))) break;
        const state = JSON.stringify((run.layers as { layer: number; shardsDone?: number }[] | undefined)?.filter((l) => l.shardsDone).length ?? 0);
        if (state !== last) progress(`remote seed ${seed}: ${String(run.status)}, layers started ${state}`);
        last = state;
        await new Promise((res) => setTimeout(res, 500));
      }
      const local = runs.find((r) => r.seed === seed);
      const same = local ? run.modelHash === local.modelHash : null;
      out.push({ seed, status: run.status, error: run.error, wallSeconds: r2((performance.now() - t0) / 1000), modelHash: run.modelHash, sameModelHash: same });
      progress(`remote seed ${seed}: ${String(run.status)} in ${((performance.now() - t0) / 1000).toFixed(0)} s, same modelHash as local: ${same ?? 'n/a (no local run)'}`);
    }
    const coordinatorPhasePeakRssBytes = phases.stop();
    const gib = (b: number | null) => (b === null ? '?' : (b / 2 ** 30).toFixed(2));
    const result = {
      workers: Number(args.workers),
      runs: out,
      coordinatorIdleRssBytes,
      coordinatorPeakRssBytes: peakRss(coord.pid!),
      coordinatorPhasePeakRssBytes,
      workerPeakRssBytes: workers.map((w) => peakRss(w.pid!)),
    };
    progress(`remote: coordinator peak RSS ${gib(result.coordinatorPeakRssBytes)} GiB (idle ${gib(coordinatorIdleRssBytes)}), workers ${result.workerPeakRssBytes.map(gib).join(', ')} GiB`);
    progress(`remote: coordinator peak RSS by phase: ${Object.entries(coordinatorPhasePeakRssBytes).map(([p, b]) => `${p} ${gib(b)}`).join('; ')}`);
    return result;
  } finally {
    await Promise.all(procs.map((p) => new Promise<void>((res) => (p.exitCode !== null ? res() : (p.once('exit', () => res()), p.kill('SIGTERM'))))));
    await db.drop();
    await rm(dir, { recursive: true, force: true });
  }
}
