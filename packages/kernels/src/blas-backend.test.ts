// The OpenBLAS backend. These tests need the addon: CI builds it (`npm run build:blas` in .ci/run),
// so a missing build fails here loudly instead of skipping.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlasDenseBackend, DEFAULT_BLAS_ADDON_PATH, loadBlasAddon } from './blas-backend.ts';
import { createDenseBackend } from './create-dense-backend.ts';
import { JsReferenceDenseBackend } from './js-reference-backend.ts';
import { createDenseStats, defaultBlockRows, nearestCentresDense } from './nearest-centres-dense.ts';
import { OrtDenseBackend } from './ort-backend.ts';
import { TSX_ESM_API, assignDense, bruteForceDense, mnistDenseCase, randomFloats, readMnistImages, runInWorkerThread } from './test-helpers.ts';

if (!existsSync(DEFAULT_BLAS_ADDON_PATH)) {
  throw new Error(`the OpenBLAS addon is not built (${DEFAULT_BLAS_ADDON_PATH}): run \`npm run build:blas\` first (needs libopenblas-dev)`);
}

let blas1: BlasDenseBackend;
let blas2: BlasDenseBackend;
let ort: OrtDenseBackend;
const js = new JsReferenceDenseBackend();

beforeAll(async () => {
  blas1 = await BlasDenseBackend.create({ threads: 1, addonPath: DEFAULT_BLAS_ADDON_PATH });
  blas2 = await BlasDenseBackend.create({ threads: 2, addonPath: DEFAULT_BLAS_ADDON_PATH });
  ort = await OrtDenseBackend.create({ threads: 1 });
});
afterAll(async () => {
  await blas1.dispose();
  await blas2.dispose();
  await ort.dispose();
});


function transpose(c: Float32Array, k: number, d: number): Float32Array {
  const ct = new Float32Array(d * k);
  for (let j = 0; j < k; j++) for (let l = 0; l < d; l++) ct[l * k + j] = c[j * d + l]!;
  return ct;
}

describe('the OpenBLAS addon', () => {
  it('is single-threaded inside and reports its build', () => {
    const addon = loadBlasAddon(DEFAULT_BLAS_ADDON_PATH);
    expect(addon.numThreads()).toBe(1);
    expect(addon.config()).toMatch(/OpenBLAS/);
    expect(blas1.name).toBe('openblas');
    expect(blas1.unitRoundoff).toBe(2 ** -24);
  });

  it('sgemm works in place, with every transpose, alpha and beta', () => {
    const m = 5, n = 7, k = 3;
    const A = randomFloats(m * k, 1, 8, true);
    const B = randomFloats(k * n, 2, 8, true);
    const At = transpose(A, m, k); // k×m
    const Bt = transpose(B, k, n); // n×k
    const C0 = randomFloats(m * n, 3, 8, true);
    const expected = new Float32Array(m * n);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let l = 0; l < k; l++) s += A[i * k + l]! * B[l * n + j]!;
        expected[i * n + j] = 2 * s + 0.5 * C0[i * n + j]!;
      }
    }
    for (const [ta, tb, a, b] of [[false, false, A, B], [true, false, At, B], [false, true, A, Bt], [true, true, At, Bt]] as const) {
      const C = C0.slice();
      blas1.addon.sgemm(ta, tb, m, n, k, 2, a, b, 0.5, C);
      expect(Array.from(C)).toEqual(Array.from(expected));
    }
  });

  it('rejects wrong types and short arrays instead of reading past them', () => {
    const a = blas1.addon;
    const f = new Float32Array(6);
    expect(() => a.sgemm(false, false, 2, 3, 2, 1, f, f, 0, new Float32Array(5))).toThrow(RangeError);
    expect(() => a.sgemm(false, false, 2, 3, 4, 1, f, f, 0, f)).toThrow(/A is shorter/);
    expect(() => a.sgemm(false, false, 2, 3, 2, 1, new Float64Array(6) as unknown as Float32Array, f, 0, f)).toThrow(TypeError);
    expect(() => a.topK(f, 3, 2, f, new Float32Array(3), 3, 2, new Float32Array(6), new Float32Array(6) as unknown as Int32Array, 8, 8)).toThrow(/Int32Array/);
    expect(() => a.topK(f, 3, 2, f, new Float32Array(3), 3, 2, new Float32Array(5), new Int32Array(6), 8, 8)).toThrow(/n\*K/);
    expect(() => a.topK(f, 3, 2, f, new Float32Array(3), 3, 4, new Float32Array(12), new Int32Array(12), 8, 8)).toThrow(/K must be/);
    expect(() => a.topK(f, 1.5, 2, f, new Float32Array(3), 3, 2, new Float32Array(6), new Int32Array(6), 8, 8)).toThrow(RangeError);
    expect(() => a.topK(f, 3, 2, f, new Float32Array(3), 3, 2, new Float32Array(6), new Int32Array(6), 8, 0)).toThrow(/colTile must be/);
    // The pre-colTile call shape is refused, not misread.
    expect(() => (a.topK as unknown as (...args: unknown[]) => void)(f, 3, 2, f, new Float32Array(3), 3, 2, new Float32Array(6), new Int32Array(6), 8)).toThrow(/takes 11 arguments/);
    expect(a.abi?.()).toBe(2);
  });

  it('gives the same top K whatever the row chunks and column tiles, across tile boundaries and ties', async () => {
    // Few distinct values, so many exact ties fall on both sides of tile boundaries; tiles narrower
    // than K are widened to K, so colTile 1..3 also covers that path.
    const n = 37, d = 5, k = 29;
    const x = randomFloats(n * d, 3, 4, true);
    const ct = transpose(randomFloats(k * d, 4, 3, true), k, d);
    const h = randomFloats(k, 5, 3, true);
    const ref = await js.topK(x, n, d, ct, h, k);
    for (const [rows, tile] of [[1, 1], [2, 3], [5, 4], [7, 5], [37, 8], [64, 28], [8, 29], [3, 1000]] as const) {
      const values = new Float32Array(n * 4);
      const indices = new Int32Array(n * 4);
      blas1.addon.topK(x, n, d, ct, h, k, 4, values, indices, rows, tile);
      expect(Array.from(indices), `${rows}×${tile}`).toEqual(Array.from(ref.indices));
      expect(Array.from(values, (v) => v + 0), `${rows}×${tile}`).toEqual(Array.from(ref.values, (v) => v + 0));
    }
    // The addon's largest K (64) against a sorted float64 reference: tiles narrower than K, a last
    // tile narrower than K (k = 100 by 63 or 65), and one tile, all the same lists.
    const k2 = 100, K2 = 64;
    const ct2 = transpose(randomFloats(k2 * d, 8, 3, true), k2, d);
    const h2 = randomFloats(k2, 9, 3, true);
    const want: number[] = [];
    for (let i = 0; i < n; i++) {
      const scores = Array.from({ length: k2 }, (_, j) => {
        let s2 = 0;
        for (let l = 0; l < d; l++) s2 += x[i * d + l]! * ct2[l * k2 + j]!;
        return { j, v: s2 - h2[j]! };
      });
      scores.sort((p, q) => q.v - p.v || p.j - q.j); // best first, ties to the lowest index
      want.push(...scores.slice(0, K2).map((e) => e.j));
    }
    for (const [rows, tile] of [[4, 1], [9, 10], [37, 63], [5, 64], [11, 65], [37, 100]] as const) {
      const values = new Float32Array(n * K2);
      const indices = new Int32Array(n * K2);
      blas1.addon.topK(x, n, d, ct2, h2, k2, K2, values, indices, rows, tile);
      expect(Array.from(indices), `K=64 ${rows}×${tile}`).toEqual(want);
    }
  });
});

describe('BlasDenseBackend.topK', () => {
  it('gives the js reference values and order, ties lowest index first, on exact small-integer scores', async () => {
    for (const [n, d, k] of [[50, 16, 20], [1, 3, 1], [7, 1, 2], [300, 5, 3], [301, 9, 4], [700, 17, 1500]] as const) {
      const x = randomFloats(n * d, n + d, 6, true);
      const c = randomFloats(k * d, k + 1, 3, true); // few distinct values: many exact ties
      const ct = transpose(c, k, d);
      const h = randomFloats(k, 9, 4, true);
      const ref = await js.topK(x, n, d, ct, h, k);
      for (const b of [blas1, blas2]) {
        const r = await b.topK(x, n, d, ct, h, k);
        expect(r.K).toBe(Math.min(4, k));
        // + 0 folds −0 into 0: the reference starts from −h_j, the addon subtracts h_j from the product.
        expect(Array.from(r.values, (v) => v + 0)).toEqual(Array.from(ref.values, (v) => v + 0));
        expect(Array.from(r.indices)).toEqual(Array.from(ref.indices));
      }
    }
  });

  it('reads only the first n rows of a longer x and accepts n = 0', async () => {
    const d = 4, k = 6;
    const x = randomFloats(10 * d, 5, 9, true);
    const ct = randomFloats(d * k, 6, 9, true);
    const h = new Float32Array(k);
    const r = await blas2.topK(x, 3, d, ct, h, k);
    expect(Array.from(r.indices)).toEqual(Array.from((await js.topK(x.subarray(0, 3 * d), 3, d, ct, h, k)).indices));
    expect((await blas2.topK(x, 0, d, ct, h, k)).values.length).toBe(0);
  });
});

describe('nearestCentresDense through BlasDenseBackend', () => {
  const shapes: Array<[n: number, d: number, k: number]> = [[300, 10, 1], [300, 10, 2], [299, 1, 7], [1001, 33, 37], [257, 64, 200], [513, 3, 1025]];
  for (const kernel of ['euclidean', 'linear'] as const) {
    for (const [n, d, k] of shapes) {
      it(`${kernel} n=${n} d=${d} k=${k}: blas (1 and 2 threads) == js-reference == float64 brute force`, async () => {
        for (const integer of [true, false]) {
          const x = randomFloats(n * d, n + d, integer ? 256 : 3, integer);
          const c = randomFloats(k * d, k + d, integer ? 256 : 3, integer);
          const expected = bruteForceDense(x, n, d, c, k, kernel);
          expect(await assignDense(blas1, x, n, d, c, k, kernel)).toEqual(expected);
          expect(await assignDense(blas2, x, n, d, c, k, kernel, 200)).toEqual(expected);
          expect(await assignDense(js, x, n, d, c, k, kernel, 100)).toEqual(expected);
        }
      });
    }
  }

  it('takes more rows a call than the 4Mi-score default at a large k, with the same exact ids', async () => {
    const n = 3000, d = 6, k = 2100;
    expect(blas1.blockRows()).toBe(8192);
    expect(defaultBlockRows(k)).toBeLessThan(n); // the default would split these rows; the backend does not
    const x = randomFloats(n * d, 77, 256, true);
    const c = randomFloats(k * d, 78, 256, true);
    const expected = bruteForceDense(x, n, d, c, k, 'euclidean');
    expect(await assignDense(blas2, x, n, d, c, k, 'euclidean')).toEqual(expected);
    expect(await assignDense(blas2, x, n, d, c, k, 'euclidean', defaultBlockRows(k))).toEqual(expected);
    expect(await assignDense(blas1, x, n, d, c, k, 'euclidean')).toEqual(expected);
  });

  it('sends exact ties to the lowest index (duplicated centres)', async () => {
    const d = 4, k = 8;
    const c = randomFloats(k * d, 21, 50, true);
    c.copyWithin(6 * d, 2 * d, 3 * d);
    c.copyWithin(7 * d, 2 * d, 3 * d);
    c.copyWithin(5 * d, 1 * d, 2 * d);
    const x = new Float32Array(3 * d);
    x.set(c.subarray(6 * d, 7 * d), 0);
    x.set(c.subarray(5 * d, 6 * d), d);
    x.set(c.subarray(7 * d, 8 * d), 2 * d);
    const stats = createDenseStats();
    const out = new Uint16Array(3);
    await nearestCentresDense(blas1, x, 3, d, c, k, 'euclidean', out, 1, 0, { stats });
    expect(Array.from(out)).toEqual([2, 1, 2]);
    expect(stats.rescoredRows).toBe(3);
    // Linear kernel, all-zero points: every score is 0, so centre 0 wins.
    expect(Array.from(await assignDense(blas2, new Float32Array(300 * d), 300, d, c, k, 'linear'))).toEqual(new Array(300).fill(0));
  });

  it('answers exactly where float32 rounding alone picks the wrong centre', async () => {
    const x = new Float32Array([2 ** 24, 1]);
    const c = new Float32Array([1, 0, 1, 1]);
    const raw = await blas1.topK(x, 1, 2, transpose(c, 2, 2), new Float32Array(2), 2);
    expect(raw.values[0]).toBe(raw.values[1]);
    expect((await assignDense(blas1, x, 1, 2, c, 2, 'linear'))[0]).toBe(1);
  });

  describe('on MNIST', () => {
    const { n, d, k, x, c } = mnistDenseCase();
    for (const kernel of ['euclidean', 'linear'] as const) {
      it(`${kernel}: blas (1 and 2 threads) == ORT == js-reference == brute force`, async () => {
        const expected = bruteForceDense(x, n, d, c, k, kernel);
        const stats = createDenseStats();
        const a = await assignDense(blas2, x, n, d, c, k, kernel, 512, stats);
        expect(a).toEqual(expected);
        expect(await assignDense(blas1, x, n, d, c, k, kernel)).toEqual(expected);
        expect(await assignDense(ort, x, n, d, c, k, kernel)).toEqual(expected);
        expect(await assignDense(js, x.subarray(0, 300 * d), 300, d, c, k, kernel)).toEqual(expected.subarray(0, 300));
        expect(stats.rows).toBe(n);
      });
    }

    it('k=1 and half the features (the bottom layer keeps a·784)', async () => {
      const dh = 392;
      const xs = new Float32Array(n * dh);
      const cs = new Float32Array(k * dh);
      for (let i = 0; i < n; i++) for (let l = 0; l < dh; l++) xs[i * dh + l] = x[i * d + 2 * l]!;
      for (let j = 0; j < k; j++) for (let l = 0; l < dh; l++) cs[j * dh + l] = c[j * d + 2 * l]!;
      expect(await assignDense(blas2, xs, n, dh, cs, k, 'euclidean')).toEqual(await assignDense(ort, xs, n, dh, cs, k, 'euclidean'));
      expect(Array.from(await assignDense(blas1, xs, 40, dh, cs, 1, 'euclidean'))).toEqual(new Array(40).fill(0));
    });
  });
});

function runInWorker(data: { x: Float32Array; n: number; d: number; centres: Float32Array; k: number; reps: number }): Promise<{ backend: string; out: Uint16Array }> {
  // As worker-threads.test.ts: the worker boots through tsx's ESM tsImport API from an eval stub.
  // The whole worker body is inline here, so it runs createDenseBackend exactly as a trainer thread does.
  const entry = new URL('./index.ts', import.meta.url).href;
  const boot = `
    Promise.all([import('node:worker_threads'), import(${JSON.stringify(TSX_ESM_API)})]).then(async ([wt, tsx]) => {
      const k = await tsx.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(import.meta.url)});
      const { x, n, d, centres, k: kc, reps } = wt.workerData;
      const backend = await k.createDenseBackend({ threads: 1 });
      const out = new Uint16Array(n);
      for (let r = 0; r < reps; r++) await k.nearestCentresDense(backend, x, n, d, centres, kc, 'euclidean', out, 1, 0);
      await backend.dispose();
      wt.parentPort.postMessage({ backend: backend.name, out });
    });`;
  return runInWorkerThread(boot, data);
}

describe('concurrency', () => {
  it('two worker threads and a 2-thread backend on the main thread, all at once, give the exact ids', async () => {
    const n = 1200, d = 784, k = 300;
    const x = readMnistImages(n, 0);
    const centres = readMnistImages(k, 20_000);
    const expected = bruteForceDense(x, n, d, centres, k, 'euclidean');
    const main = (async () => {
      const out = new Uint16Array(n);
      for (let r = 0; r < 10; r++) await nearestCentresDense(blas2, x, n, d, centres, k, 'euclidean', out, 1, 0, { blockRows: 400 });
      return out;
    })();
    const [a, b, m] = await Promise.all([runInWorker({ x, n, d, centres, k, reps: 10 }), runInWorker({ x, n, d, centres, k, reps: 10 }), main]);
    expect(a.backend).toBe('openblas');
    expect(b.backend).toBe('openblas');
    expect(a.out).toEqual(expected);
    expect(b.out).toEqual(expected);
    expect(m).toEqual(expected);
  });
});

describe('createDenseBackend with the addon', () => {
  it('prefers blas by default for one thread and with prefer: blas; ORT for more threads by default and with prefer: ort', async () => {
    for (const opts of [{ threads: 1 }, { threads: 1, prefer: 'blas' as const }, { threads: 2, prefer: 'blas' as const }]) {
      const b = await createDenseBackend(opts);
      expect(b).toBeInstanceOf(BlasDenseBackend);
      await b.dispose();
    }
    // More than one thread by default: ORT, whose own pool does not queue behind libuv's.
    for (const opts of [{ threads: 1, prefer: 'ort' as const }, { threads: 2 }, {}]) {
      const o = await createDenseBackend(opts);
      expect(o.name).toBe('onnxruntime-cpu');
      await o.dispose();
    }
  });

  it('falls back to ORT when the addon is not built (path option or CMBN_BLAS_ADDON): silently by default, with a warning when asked for by name', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    const saved = process.env['CMBN_BLAS_ADDON'];
    try {
      const a = await createDenseBackend({ threads: 1, blasAddonPath: '/nonexistent/cmbn_blas.node' });
      process.env['CMBN_BLAS_ADDON'] = '/nonexistent/cmbn_blas.node';
      const b = await createDenseBackend({ threads: 1, prefer: 'blas' });
      await new Promise((r) => setImmediate(r));
      expect(a.name).toBe('onnxruntime-cpu');
      expect(b.name).toBe('onnxruntime-cpu');
      expect(warnings).toEqual([expect.stringMatching(/OpenBLAS addon not built .*npm run build:blas/)]);
      await a.dispose();
      await b.dispose();
      await expect(BlasDenseBackend.create({ addonPath: '/nonexistent/cmbn_blas.node' })).rejects.toThrow(/npm run build:blas/);
    } finally {
      if (saved === undefined) delete process.env['CMBN_BLAS_ADDON'];
      else process.env['CMBN_BLAS_ADDON'] = saved;
      process.off('warning', onWarning);
    }
  });

  it('refuses an addon built before the current interface, naming the rebuild, and falls back to ORT', async () => {
    // A stand-in module with the old exports and no abi(): what a build from before colTile looks like to the loader.
    const dir = mkdtempSync(join(tmpdir(), 'cmbn-stale-addon-'));
    const stale = join(dir, 'cmbn_blas.cjs');
    writeFileSync(stale, "module.exports = { config: () => 'OpenBLAS 0.3.21 DYNAMIC_ARCH', numThreads: () => 1, topK() { throw new Error('called'); } };\n");
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      expect(() => loadBlasAddon(stale)).toThrow(/interface 1, this checkout needs 2: rebuild it with `npm run build:blas`/);
      const b = await createDenseBackend({ threads: 1, prefer: 'blas', blasAddonPath: stale });
      await new Promise((r) => setImmediate(r));
      expect(b.name).toBe('onnxruntime-cpu');
      expect(warnings).toEqual([expect.stringMatching(/rebuild it with `npm run build:blas`/)]);
      await b.dispose();
    } finally {
      process.off('warning', onWarning);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
