/**
 * DenseBackend on onnxruntime-node's CPU provider: MLAS sgemm fused with Sub and TopK, so the n×k
 * score matrix never crosses into JS (only n×K candidates do).
 */
import os from 'node:os';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { checkTopKArgs, topKFor, type DenseBackend, type TopKResult } from './dense-backend.ts';
import { buildMatMulModel, buildTopKModel } from './onnx-graph.ts';

// The module's own type, default export included (a namespace import type would drop `default`).
// eslint-disable-next-line @typescript-eslint/consistent-type-imports
type Ort = typeof import('onnxruntime-node');

let ortModule: Promise<Ort> | undefined;

/** Loads onnxruntime-node once; rejects if its native binding is missing for this platform. */
export function loadOrt(): Promise<Ort> {
  ortModule ??= import('onnxruntime-node').then((m) => ((m as { default?: Ort }).default ?? m) as Ort);
  return ortModule;
}

export interface OrtBackendOptions {
  /** intra-op threads for MLAS; default os.availableParallelism(). */
  threads?: number;
}

function sessionOptions(threads: number): InferenceSession.SessionOptions {
  // One thread pool per session sized by the caller: a worker thread running its own backend asks
  // for threads: 1 so that W workers use W cores, not W×cores.
  return {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    // Each session owns a thread pool whose threads spin-wait after every run by default. With more
    // than one session alive (one per K, the MatMul session, a student next to MBN) the idle pool's
    // spinning threads steal the cores from the busy one: measured 91 vs 140–159 GFLOP/s here.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}

export class OrtDenseBackend implements DenseBackend {
  readonly name = 'onnxruntime-cpu';
  readonly unitRoundoff = 2 ** -24;
  readonly threads: number;
  // One session per distinct K (K = min(4, k)); shapes are symbolic so each is reused for all (n, d, k).
  private readonly sessions = new Map<number, Promise<InferenceSession>>();
  private matMulSession: Promise<InferenceSession> | undefined;

  private constructor(
    private readonly ort: Ort,
    threads: number,
  ) {
    this.threads = threads;
  }

  static async create(opts: OrtBackendOptions = {}): Promise<OrtDenseBackend> {
    const threads = opts.threads ?? os.availableParallelism();
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
    const ort = await loadOrt();
    const backend = new OrtDenseBackend(ort, threads);
    await backend.session(topKFor(Number.MAX_SAFE_INTEGER)); // fail at creation, not at first use
    return backend;
  }

  private session(K: number): Promise<InferenceSession> {
    let s = this.sessions.get(K);
    if (!s) {
      s = this.ort.InferenceSession.create(buildTopKModel(K), sessionOptions(this.threads));
      this.sessions.set(K, s);
    }
    return s;
  }

  private tensor(data: Float32Array, dims: number[]): Tensor {
    return new this.ort.Tensor('float32', data, dims);
  }

  async topK(x: Float32Array, n: number, d: number, ct: Float32Array, h: Float32Array, k: number): Promise<TopKResult> {
    checkTopKArgs(x, n, d, ct, h, k);
    const K = topKFor(k);
    if (n === 0) return { values: new Float32Array(0), indices: new Int32Array(0), K };
    const session = await this.session(K);
    // subarray keeps the caller's buffer (no copy); ORT reads byteOffset/length of the view.
    const xs = x.length === n * d ? x : x.subarray(0, n * d);
    const res = await session.run({ X: this.tensor(xs, [n, d]), Ct: this.tensor(ct, [d, k]), H: this.tensor(h, [k]) });
    const v = res['V'];
    const iv = res['I'];
    if (!v || !iv) throw new Error('onnxruntime returned no TopK outputs');
    const values = v.data as Float32Array;
    const i64 = iv.data as BigInt64Array;
    const indices = new Int32Array(i64.length);
    for (let t = 0; t < i64.length; t++) indices[t] = Number(i64[t]);
    v.dispose();
    iv.dispose();
    return { values: new Float32Array(values), indices, K };
  }

  /** X·Ct alone (n×k float32), for benchmarks: the sgemm ceiling available to Node. */
  async matMul(x: Float32Array, n: number, d: number, ct: Float32Array, k: number): Promise<Float32Array> {
    this.matMulSession ??= this.ort.InferenceSession.create(buildMatMulModel(), sessionOptions(this.threads));
    const session = await this.matMulSession;
    const res = await session.run({ X: this.tensor(x.subarray(0, n * d), [n, d]), Ct: this.tensor(ct, [d, k]) });
    const out = res['XC'];
    if (!out) throw new Error('onnxruntime returned no MatMul output');
    return out.data as Float32Array;
  }

  async dispose(): Promise<void> {
    const all = [...this.sessions.values()];
    if (this.matMulSession) all.push(this.matMulSession);
    this.sessions.clear();
    this.matMulSession = undefined;
    for (const s of all) await (await s).release();
  }
}
