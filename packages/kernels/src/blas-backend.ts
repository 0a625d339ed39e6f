/**
 * DenseBackend on OpenBLAS's sgemm through the native addon in packages/kernels/native (built by
 * `npm run build:blas`, never at install, so a machine without libopenblas still installs). The
 * addon runs GEMM, the Sub and the top-K in C over cache-sized row chunks, so only n×K candidates
 * reach JS, like the ORT graph. It is a float32 GEMM like ORT's: unit roundoff 2^-24, and
 * nearestCentresDense makes the ids exact whichever backend produced the candidates.
 *
 * Threads: the addon sets OpenBLAS to 1 thread at load, so a call runs on the thread that makes it.
 * threads: 1 (one backend per worker_thread, as the trainer and predictor run) computes on the
 * calling thread; threads > 1 splits the rows into that many ranges run side by side on the libuv
 * pool (UV_THREADPOOL_SIZE, default 4, caps how many run at once).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { checkTopKArgs, topKFor, type DenseBackend, type TopKResult } from './dense-backend.ts';

/** The addon's exports (native/cmbn-blas.cc). */
export interface BlasAddon {
  /** C = alpha·op(A)·op(B) + beta·C, row-major with tight strides, in place on C. */
  sgemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number, A: Float32Array, B: Float32Array, beta: number, C: Float32Array): void;
  /** Top K of x·ct − h per row into values/indices (n×K), on the calling thread, in sgemms of chunkRows × colTile scores. */
  topK(x: Float32Array, n: number, d: number, ct: Float32Array, h: Float32Array, k: number, K: number, values: Float32Array, indices: Int32Array, chunkRows: number, colTile: number): void;
  /**
   * The same on a libuv pool thread. Contract: until it settles, the caller must not write x, ct or h,
   * read values or indices, or detach, transfer or resize any of their buffers (the addon holds raw
   * pointers; references only keep the arrays alive). nearestCentresDense owns and awaits its arrays.
   */
  topKAsync(
    x: Float32Array,
    n: number,
    d: number,
    ct: Float32Array,
    h: Float32Array,
    k: number,
    K: number,
    values: Float32Array,
    indices: Int32Array,
    chunkRows: number,
    colTile: number,
  ): Promise<void>;
  /**
   * The sparse layers' merged index (see nearest-centres-sparse-group.ts), built in C++: the same
   * offsets and slots as the JS build, the slots as a Uint16Array when G·k ≤ 65536.
   */
  sparseGroupBuild(Vp: number, kp: number, k: number, keptFeatures: Uint32Array[], centreCodes: Uint16Array[]): { offsets: Int32Array; slots: Uint16Array | Uint32Array };
  /** assignSparseGroup's assignment in C++, on the calling thread; returns the score increments done. */
  sparseGroupAssign(
    offsets: Int32Array,
    slots: Uint16Array | Uint32Array,
    Vp: number,
    kp: number,
    k: number,
    G: number,
    codes: Uint16Array,
    n: number,
    out: Uint16Array,
    outStride: number,
    outOffset: number,
  ): number;
  /** OpenBLAS's build string, e.g. 'OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64'. */
  config(): string;
  numThreads(): number;
  /** The addon's interface version: 2 since topK takes colTile (absent before). */
  abi?(): number;
}

/** The addon interface this code calls (see BlasAddon.abi). */
const BLAS_ADDON_ABI = 2;

/** Where `npm run build:blas` puts the addon; CMBN_BLAS_ADDON overrides it. */
export const DEFAULT_BLAS_ADDON_PATH = fileURLToPath(new URL('../native/build/Release/cmbn_blas.node', import.meta.url));

const require = createRequire(import.meta.url);
const loaded = new Map<string, BlasAddon>();

export function blasAddonPath(explicit?: string): string {
  return explicit ?? (process.env['CMBN_BLAS_ADDON'] || DEFAULT_BLAS_ADDON_PATH);
}

/** Loads the addon once per path; throws, naming the build command, when it is not built. */
export function loadBlasAddon(addonPath?: string): BlasAddon {
  const p = blasAddonPath(addonPath);
  let addon = loaded.get(p);
  if (!addon) {
    if (!existsSync(p)) throw new Error(`OpenBLAS addon not built (no ${p}): run \`npm run build:blas\` (needs libopenblas-dev)`);
    addon = require(p) as BlasAddon;
    // A build from before an interface change would fail on every call: refuse it here, so that
    // createDenseBackend falls back to ORT with a warning that says to rebuild (the sparse kernel,
    // which loads the addon here too, falls back to JS the same way).
    const abi = typeof addon.abi === 'function' ? addon.abi() : 1;
    if (abi !== BLAS_ADDON_ABI) throw new Error(`the OpenBLAS addon at ${p} is interface ${abi}, this checkout needs ${BLAS_ADDON_ABI}: rebuild it with \`npm run build:blas\``);
    // Concurrent calls from several threads are safe with OpenBLAS's pthread build held at 1 thread
    // (what the addon sets at load); its OpenMP build makes no such promise, so it is refused here
    // and createDenseBackend falls back to ORT with a warning.
    if (/USE_OPENMP/.test(addon.config())) throw new Error(`the OpenBLAS linked here is an OpenMP build (${addon.config()}); use the pthread libopenblas`);
    loaded.set(p, addon);
  }
  return addon;
}

export interface BlasBackendOptions {
  /** row ranges computed side by side; default os.availableParallelism(). */
  threads?: number;
  /** path of cmbn_blas.node; default CMBN_BLAS_ADDON or the build output. */
  addonPath?: string;
}

/**
 * The addon's sgemm shape: chunkRows × colTile float32 scores per call, written by sgemm and then
 * scanned for the top K, so the block should stay near cache (2 MB), while each call still
 * amortises OpenBLAS's packing of its columns of ct over enough rows. Measured at k=1428/1666/1024:
 * 256–512-row chunks 160–170 GFLOP/s on one thread, 128 rows 143–155, one whole 2517-row block at
 * k=1666 127. Before column tiles a chunk spanned all k columns, so a large k meant thin chunks
 * (64 rows at k=35000, each packing all 55 MB of ct): 60 GFLOP/s there against 85 with 512 × 1024
 * tiles, 70 against 83 at k=5000, 82 against 86 at k=1428 on the AMD EPYC (scratch sweep of
 * 128–1024 rows × 1024–k columns, 2026-12-03; `bench:kernels` measures the two side by side).
 */
const CHUNK_SCORES = 512 * 1024;
const MIN_CHUNK_ROWS = 64;
export const BLAS_COL_TILE = 1024;

export function blasColTile(k: number): number {
  return Math.min(k, BLAS_COL_TILE);
}

export function blasChunkRows(k: number): number {
  return Math.max(MIN_CHUNK_ROWS, Math.floor(CHUNK_SCORES / blasColTile(k)));
}

/**
 * Rows per topK call (BlasDenseBackend.blockRows). The addon scores chunkRows × colTile at a time
 * whatever a call's n, so a call holds only its n×K candidates (32 bytes a row), not the n×k block
 * that the driver's default 4Mi-score bound is for. Under that bound a call at k = 20000 had 209
 * rows: each sgemm packed a 392 × 1024 tile of ct for 209 rows instead of 512, and a 2-thread
 * backend ran the call on one thread (209 < 2·MIN_ROWS_PER_THREAD). `bench:kernels` measures both.
 */
export const BLAS_BLOCK_ROWS = 8192;

/** Rows below which a split across threads costs more than it saves. */
const MIN_ROWS_PER_THREAD = 128;

export class BlasDenseBackend implements DenseBackend {
  readonly name = 'openblas';
  readonly unitRoundoff = 2 ** -24;
  readonly threads: number;

  private constructor(
    readonly addon: BlasAddon,
    threads: number,
  ) {
    this.threads = threads;
  }

  static async create(opts: BlasBackendOptions = {}): Promise<BlasDenseBackend> {
    const threads = opts.threads ?? os.availableParallelism();
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
    return new BlasDenseBackend(loadBlasAddon(opts.addonPath), threads);
  }

  async topK(x: Float32Array, n: number, d: number, ct: Float32Array, h: Float32Array, k: number): Promise<TopKResult> {
    checkTopKArgs(x, n, d, ct, h, k);
    const K = topKFor(k);
    const values = new Float32Array(n * K);
    const indices = new Int32Array(n * K);
    if (n === 0) return { values, indices, K };
    const chunkRows = blasChunkRows(k);
    const colTile = blasColTile(k);
    const parts = Math.min(this.threads, Math.floor(n / MIN_ROWS_PER_THREAD));
    if (parts <= 1) {
      this.addon.topK(x, n, d, ct, h, k, K, values, indices, chunkRows, colTile);
      return { values, indices, K };
    }
    const runs: Array<Promise<void>> = [];
    for (let p = 0; p < parts; p++) {
      const r0 = Math.floor((n * p) / parts);
      const r1 = Math.floor((n * (p + 1)) / parts);
      runs.push(
        this.addon.topKAsync(x.subarray(r0 * d, r1 * d), r1 - r0, d, ct, h, k, K, values.subarray(r0 * K, r1 * K), indices.subarray(r0 * K, r1 * K), chunkRows, colTile),
      );
    }
    await Promise.all(runs);
    return { values, indices, K };
  }

  blockRows(): number {
    return BLAS_BLOCK_ROWS;
  }

  /** X·Ct alone (n×k float32) into out, for benchmarks: OpenBLAS's sgemm on this thread. */
  matMul(x: Float32Array, n: number, d: number, ct: Float32Array, k: number, out: Float32Array = new Float32Array(n * k)): Float32Array {
    this.addon.sgemm(false, false, n, k, d, 1, x, ct, 0, out);
    return out;
  }

  async dispose(): Promise<void> {}
}
