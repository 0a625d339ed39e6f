/**
 * A reusable MBN predictor: worker threads that each own a fixed share of every layer's
 * clusterings and keep that share's prepared centres (dense centre matrices, sparse merged
 * indices) across calls. For labelling many batches (the student's teacher-labelled distortions)
 * this removes the per-call preparation and runs the JavaScript parts (gathering, verification,
 * the sparse layers) on every core, as training does. The ids, embedding and labels are the same
 * bytes as `predict` and the reference, whatever the thread count: every clustering's answer is
 * the exact nearest centre, and only which thread computes it changes.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { CodeInput } from './layer.ts';
import { featureBitsDrawn, type MbnModel, type ModelLayer } from './model.ts';
import { applyHead, checkPredictInput, PredictError, type Prediction, type PredictInput } from './predict.ts';
import type { LayerPoints } from './predict-layers.ts';
import type { PredictThreadInbound, PredictThreadInit, PredictThreadLayer, PredictThreadOutbound } from './predict-thread.ts';
import { placeShard } from './shard.ts';
import { toShared } from './thread-pool.ts';
import { tsBootScript } from './ts-boot.ts';

/**
 * Default bytes of prepared centres kept across calls, over all threads. The 10k-digit V=100
 * model needs ~0.88 GB (dense: V·k·m·4 = 100·5000·392·4 B; the sparse indices ~0.1 GB); what does
 * not fit is prepared again on each call, which costs ~25 % of the bottom layer at 2,000 points
 * per call (measured: 46 ms of 183 ms per clustering).
 */
export const DEFAULT_PREDICT_CACHE_BYTES = 1024 * 1024 * 1024;

export interface MbnPredictorOptions {
  /** Worker threads; default every core. */
  threads?: number;
  /** Dense backend of each thread (single-threaded); default ORT, falling back to js. */
  backend?: 'ort' | 'js';
  /** Prepared-centre bytes kept across calls, all threads together; default DEFAULT_PREDICT_CACHE_BYTES. */
  cacheBytes?: number;
}

export interface MbnPredictor {
  readonly threads: number;
  /** The dense backend its threads ran (e.g. 'openblas', 'onnxruntime-cpu'), known after the first predict. */
  readonly backend: string | undefined;
  /**
   * Same answers as predict(model, x, backend). Calls may overlap; they queue on the threads.
   * opts.layerSeconds, when given, gets each layer's wall seconds added (for benchmarks).
   */
  predict(x: PredictInput, opts?: { layerSeconds?: number[] }): Promise<Prediction>;
  /** Stops the threads; the predictor cannot be used afterwards. */
  dispose(): Promise<void>;
}

/** Splits V clusterings into `parts` contiguous ranges whose sizes differ by at most one. */
export function splitClusterings(V: number, parts: number): { v0: number; v1: number }[] {
  return Array.from({ length: parts }, (_, t) => ({ v0: Math.floor((t * V) / parts), v1: Math.floor(((t + 1) * V) / parts) }));
}

/** Threads a predictor starts: more than a layer's clusterings would leave threads idle on that layer. */
export function predictorThreads(model: Pick<MbnModel, 'layers'>, threads: number): number {
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
  return Math.min(threads, ...model.layers.map((l) => l.V));
}

/**
 * A layer for the threads, in shared memory. Not `{ ...layer }`: a spread reads featureBits, which
 * on a loaded model would redraw every clustering's bits here, on one thread (10 s at MNIST-70k);
 * left out, each thread redraws only its own clusterings', in parallel (predict-thread.ts).
 */
function sharedLayer(layer: ModelLayer): PredictThreadLayer {
  const drawn = featureBitsDrawn(layer);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(layer) as (keyof ModelLayer)[]) if (key !== 'featureBits') out[key] = layer[key];
  const shared = { ...(out as Omit<ModelLayer, 'featureBits'>), bank: toShared(layer.bank), centres: toShared(layer.centres) };
  return drawn ? { ...shared, featureBits: toShared(layer.featureBits) } : shared;
}

interface Pending {
  resolve: (block: Uint16Array) => void;
  reject: (err: Error) => void;
}

class ThreadedMbnPredictor implements MbnPredictor {
  readonly threads: number;
  backend: string | undefined;
  private readonly workers: Worker[] = [];
  private readonly exited = new Set<Worker>();
  /** ranges[t][l]: thread t's clusterings of layer l. */
  private readonly ranges: { v0: number; v1: number }[][];
  private readonly pending = new Map<number, Pending>();
  private nextJob = 1;
  private failed: Error | undefined;
  private disposed = false;

  constructor(
    private readonly model: MbnModel,
    opts: MbnPredictorOptions,
  ) {
    const cacheBytes = opts.cacheBytes ?? DEFAULT_PREDICT_CACHE_BYTES;
    if (!(cacheBytes >= 0)) throw new RangeError(`cacheBytes must be ≥ 0, got ${cacheBytes}`);
    if (model.layers[0]?.input.kind !== 'dense') throw new PredictError('model layer 1 is not dense');
    this.threads = predictorThreads(model, opts.threads ?? availableParallelism());
    const perLayer = model.layers.map((l) => splitClusterings(l.V, this.threads));
    this.ranges = Array.from({ length: this.threads }, (_, t) => perLayer.map((r) => r[t]!));
    const layers = model.layers.map(sharedLayer);
    const boot = tsBootScript(new URL('./predict-thread.ts', import.meta.url).href);
    for (let t = 0; t < this.threads; t++) {
      const init: PredictThreadInit = {
        layers,
        draw: { seed: model.params.seed, a: model.params.a },
        kernel: model.params.kernel,
        ranges: this.ranges[t]!,
        cacheBytes: Math.floor(cacheBytes / this.threads),
        ...(opts.backend ? { prefer: opts.backend } : {}),
      };
      const w = new Worker(boot, { eval: true, workerData: init });
      w.on('message', (m: PredictThreadOutbound) => this.onMessage(m));
      w.on('error', (err) => this.fail(err));
      w.on('exit', (code) => {
        this.exited.add(w);
        if (code !== 0 || !this.disposed) this.fail(new Error(`predict thread exited with code ${code}`));
      });
      this.workers.push(w);
    }
  }

  private onMessage(m: PredictThreadOutbound): void {
    const p = this.pending.get(m.jobId);
    this.pending.delete(m.jobId);
    if (!p) return;
    if (m.type === 'done') {
      this.backend = m.backend;
      p.resolve(m.block);
    }
    else p.reject(new Error(m.message));
  }

  private fail(err: Error): void {
    // A dead thread owns clusterings nobody else has: the predictor cannot go on.
    this.failed ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private encode(t: number, layer: number, points: LayerPoints): Promise<Uint16Array> {
    if (this.failed) return Promise.reject(this.failed);
    const jobId = this.nextJob++;
    const p = new Promise<Uint16Array>((resolve, reject) => this.pending.set(jobId, { resolve, reject }));
    this.workers[t]!.postMessage({ type: 'encode', jobId, layer, points } satisfies PredictThreadInbound);
    return p;
  }

  async predict(x: PredictInput, opts: { layerSeconds?: number[] } = {}): Promise<Prediction> {
    if (this.disposed) throw new Error('this MBN predictor was disposed');
    checkPredictInput(this.model, x);
    const n = x.rows;
    // Shared memory: every thread reads the batch (and each layer's code) without a copy each.
    let points: LayerPoints = { kind: 'dense', n, cols: x.cols, data: toShared(x.data.subarray(0, n * x.cols)) };
    for (let l = 0; l < this.model.layers.length; l++) {
      const { V, k } = this.model.layers[l]!;
      const input = points;
      const t0 = performance.now();
      const blocks = await Promise.all(this.ranges.map((r, t) => this.encode(t, l, input)));
      const ids = new Uint16Array(new SharedArrayBuffer(n * V * 2));
      this.ranges.forEach((r, t) => placeShard(blocks[t]!, n, r[l]!.v0, r[l]!.v1, V, ids));
      points = { kind: 'code', n, V, k, ids };
      if (opts.layerSeconds) opts.layerSeconds[l] = (opts.layerSeconds[l] ?? 0) + (performance.now() - t0) / 1000;
    }
    return applyHead(this.model, points as CodeInput);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (this.exited.has(w)) return resolve();
            w.once('exit', () => resolve());
            w.postMessage({ type: 'close' } satisfies PredictThreadInbound);
            // A thread stuck in native code still goes away.
            setTimeout(() => void w.terminate(), 5_000).unref();
          }),
      ),
    );
  }
}

/** Starts a predictor for `model` (see the file comment); dispose() it when done. */
export function createMbnPredictor(model: MbnModel, opts: MbnPredictorOptions = {}): MbnPredictor {
  return new ThreadedMbnPredictor(model, opts);
}
