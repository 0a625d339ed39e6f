import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DenseBackend } from './dense-backend.ts';
import { createDenseBackend } from './create-dense-backend.ts';
import { JsReferenceDenseBackend } from './js-reference-backend.ts';
import { createDenseStats, defaultBlockRows, gatherDenseCentres, nearestCentresDense, nearestCentresDensePrepared, prepareDenseCentres, type DenseKernel } from './nearest-centres-dense.ts';
import { OrtDenseBackend } from './ort-backend.ts';
import { assignDense, bruteForceDense, mnistDenseCase, randomFloats, readMnistImages } from './test-helpers.ts';

let ort: DenseBackend;
let ort1: DenseBackend;
const js = new JsReferenceDenseBackend();

beforeAll(async () => {
  ort = await createDenseBackend({ threads: 2, prefer: 'ort' });
  ort1 = await createDenseBackend({ threads: 1, prefer: 'ort' });
});
afterAll(async () => {
  await ort.dispose();
  await ort1.dispose();
});

describe('createDenseBackend', () => {
  it('loads onnxruntime-node here with prefer: ort and honours prefer: js', async () => {
    expect(ort).toBeInstanceOf(OrtDenseBackend);
    expect(ort.name).toBe('onnxruntime-cpu');
    expect(ort.unitRoundoff).toBe(2 ** -24);
    const j = await createDenseBackend({ prefer: 'js' });
    expect(j.name).toBe('js-reference');
  });

  it('ORT topK agrees with the js reference on well-separated scores', async () => {
    const n = 50, d = 16, k = 20;
    const x = randomFloats(n * d, 1, 256, true);
    const c = randomFloats(k * d, 2, 256, true);
    const ct = new Float32Array(d * k);
    const h = new Float32Array(k);
    for (let j = 0; j < k; j++) for (let l = 0; l < d; l++) ct[l * k + j] = c[j * d + l]!;
    const a = await ort.topK(x, n, d, ct, h, k);
    const b = await js.topK(x, n, d, ct, h, k);
    expect(a.K).toBe(4);
    expect(a.indices[0]).toBe(b.indices[0]);
    expect(Array.from(a.values)).toEqual(Array.from(b.values));
  });
});

describe('nearestCentresDense on random data', () => {
  const shapes: Array<[n: number, d: number, k: number]> = [
    [300, 10, 1],
    [300, 10, 2],
    [300, 10, 3],
    [300, 10, 4],
    [300, 1, 7],
    [1000, 33, 37],
    [257, 64, 200],
  ];
  for (const kernel of ['euclidean', 'linear'] as const) {
    for (const [n, d, k] of shapes) {
      it(`${kernel} n=${n} d=${d} k=${k}: ORT == js-reference == float64 brute force`, async () => {
        const seed = n * 7 + d * 13 + k;
        for (const integer of [true, false]) {
          const x = randomFloats(n * d, seed, integer ? 256 : 3, integer);
          const c = randomFloats(k * d, seed + 1, integer ? 256 : 3, integer);
          const expected = bruteForceDense(x, n, d, c, k, kernel);
          expect(await assignDense(ort, x, n, d, c, k, kernel, 64)).toEqual(expected); // n not a multiple of 64
          expect(await assignDense(js, x, n, d, c, k, kernel, 100)).toEqual(expected);
          expect(await assignDense(ort, x, n, d, c, k, kernel)).toEqual(expected);
        }
      });
    }
  }

  it('writes to out[i*stride + offset] and leaves the rest alone', async () => {
    const n = 40, d = 5, k = 6;
    const x = randomFloats(n * d, 9, 10);
    const c = randomFloats(k * d, 10, 10);
    const expected = bruteForceDense(x, n, d, c, k, 'euclidean');
    const out = new Uint16Array(n * 3).fill(65535);
    await nearestCentresDense(ort, x, n, d, c, k, 'euclidean', out, 3, 2, { blockRows: 7 });
    for (let i = 0; i < n; i++) {
      expect(out[i * 3 + 2]).toBe(expected[i]);
      expect(out[i * 3]).toBe(65535);
      expect(out[i * 3 + 1]).toBe(65535);
    }
  });

  it("splits rows by options.blockRows, else the backend's blockRows(k), else the 4Mi-score default", async () => {
    // The js reference, recording the rows of each topK call, with and without a preference of its own.
    const recorder = (prefer?: (k: number) => number): { backend: DenseBackend; calls: number[]; asked: number[] } => {
      const calls: number[] = [];
      const asked: number[] = [];
      const backend: DenseBackend = {
        name: 'recording-js',
        unitRoundoff: js.unitRoundoff,
        topK: (x, n, d, ct, h, k) => {
          calls.push(n);
          return js.topK(x, n, d, ct, h, k);
        },
        ...(prefer ? { blockRows: (k: number) => (asked.push(k), prefer(k)) } : {}),
        dispose: async () => {},
      };
      return { backend, calls, asked };
    };
    const n = 23, d = 4, k = 9;
    const x = randomFloats(n * d, 31, 256, true);
    const c = randomFloats(k * d, 32, 256, true);
    const expected = [...bruteForceDense(x, n, d, c, k, 'euclidean')];
    const run = async (backend: DenseBackend, options = {}): Promise<number[]> => {
      const out = new Uint16Array(n);
      await nearestCentresDense(backend, x, n, d, c, k, 'euclidean', out, 1, 0, options);
      return [...out];
    };

    const preferring = recorder((kk) => kk - 4); // 5 rows a call at k = 9
    expect(await run(preferring.backend)).toEqual(expected);
    expect(preferring.asked).toEqual([k]);
    expect(preferring.calls).toEqual([5, 5, 5, 5, 3]);

    const overridden = recorder(() => 5);
    expect(await run(overridden.backend, { blockRows: 10 })).toEqual(expected);
    expect(overridden.calls).toEqual([10, 10, 3]);

    const plain = recorder();
    expect(defaultBlockRows(k)).toBeGreaterThan(n);
    expect(await run(plain.backend)).toEqual(expected);
    expect(plain.calls).toEqual([n]);
    expect(defaultBlockRows(20000)).toBe(209);
  });

  it('accepts n = 0 and rejects a short out buffer', async () => {
    await nearestCentresDense(ort, new Float32Array(0), 0, 3, new Float32Array(6), 2, 'euclidean', new Uint16Array(0), 1, 0);
    await expect(nearestCentresDense(ort, new Float32Array(6), 2, 3, new Float32Array(6), 2, 'euclidean', new Uint16Array(1), 1, 0)).rejects.toThrow(RangeError);
  });
});

describe('nearestCentresDense exactness', () => {
  it('sends exact ties to the lowest index (duplicated centres, symmetric points)', async () => {
    const d = 4, k = 8;
    const c = randomFloats(k * d, 21, 50, true);
    c.copyWithin(6 * d, 2 * d, 3 * d); // centre 6 == centre 2
    c.copyWithin(7 * d, 2 * d, 3 * d); // centre 7 == centre 2
    c.copyWithin(5 * d, 1 * d, 2 * d); // centre 5 == centre 1
    // Points equal to a duplicated centre, plus the midpoint of centres 0 and 3 (equidistant).
    const x = new Float32Array(4 * d);
    x.set(c.subarray(6 * d, 7 * d), 0);
    x.set(c.subarray(5 * d, 6 * d), d);
    x.set(c.subarray(7 * d, 8 * d), 2 * d);
    for (let l = 0; l < d; l++) x[3 * d + l] = (c[l]! + c[3 * d + l]!) / 2;
    for (const b of [ort, js]) {
      const stats = createDenseStats();
      const out = new Uint16Array(4);
      await nearestCentresDense(b, x, 4, d, c, k, 'euclidean', out, 1, 0, { stats });
      expect(Array.from(out.subarray(0, 3))).toEqual([2, 1, 2]);
      expect(out[3]).toBe(bruteForceDense(x.subarray(3 * d), 1, d, c, k, 'euclidean')[0]);
      expect(stats.rescoredRows).toBeGreaterThanOrEqual(3);
    }
    // Linear kernel, all-zero point: every score is 0, so centre 0 wins.
    const zero = new Uint16Array(1);
    await nearestCentresDense(ort, new Float32Array(d), 1, d, c, k, 'linear', zero, 1, 0);
    expect(zero[0]).toBe(0);
  });

  it('answers exactly where float32 rounding alone picks the wrong centre', async () => {
    // Linear kernel: s0 = 2^24, s1 = 2^24 + 1, which float32 rounds to the same value.
    const x = new Float32Array([2 ** 24, 1]);
    const c = new Float32Array([1, 0, 1, 1]);
    const ct = new Float32Array([1, 1, 0, 1]);
    const raw = await ort.topK(x, 1, 2, ct, new Float32Array(2), 2);
    expect(raw.values[0]).toBe(raw.values[1]); // the GEMM cannot tell them apart
    for (const b of [ort, js, ort1]) expect((await assignDense(b, x, 1, 2, c, 2, 'linear'))[0]).toBe(1);

    // Same trap with 10 centres all tied in float32: the answer lies outside any top 4 ordering,
    // so the whole row must be rescored.
    const k = 10;
    const c10 = new Float32Array(k * 2);
    for (let j = 0; j < k; j++) c10[j * 2] = 1;
    c10[7 * 2 + 1] = 1;
    const stats = createDenseStats();
    const out = new Uint16Array(1);
    await nearestCentresDense(ort, x, 1, 2, c10, k, 'linear', out, 1, 0, { stats });
    expect(out[0]).toBe(7);
    expect(stats.fullRescoredRows).toBe(1);
  });

  it('euclidean: centres at nearly equal huge distance are ordered exactly', async () => {
    // Far-away centres that differ by a few units: |c|² ~ 1e12 so h's float32 ulp is ~6e4, far
    // larger than the real score gaps. Integer data keeps the float64 oracle exact.
    const n = 400, d = 8, k = 16;
    const x = randomFloats(n * d, 31, 4, true);
    const c = randomFloats(k * d, 32, 4, true);
    for (let t = 0; t < c.length; t++) c[t]! += 350_000;
    const expected = bruteForceDense(x, n, d, c, k, 'euclidean');
    const stats = createDenseStats();
    const out = new Uint16Array(n);
    await nearestCentresDense(ort, x, n, d, c, k, 'euclidean', out, 1, 0, { stats });
    expect(out).toEqual(expected);
    expect(stats.rescoredRows).toBeGreaterThan(0);
    // Without verification the float32 top-1 would be wrong on some rows.
    const ct = new Float32Array(d * k);
    const h = new Float32Array(k);
    for (let j = 0; j < k; j++) {
      let c2 = 0;
      for (let l = 0; l < d; l++) {
        ct[l * k + j] = c[j * d + l]!;
        c2 += c[j * d + l]! ** 2;
      }
      h[j] = c2 / 2;
    }
    const raw = await ort.topK(x, n, d, ct, h, k);
    let wrong = 0;
    for (let i = 0; i < n; i++) if (raw.indices[i * raw.K] !== expected[i]) wrong++;
    expect(wrong).toBeGreaterThan(0);
  });
});

describe('nearestCentresDense on MNIST', () => {
  const { n, d, k, x, c } = mnistDenseCase();

  for (const kernel of ['euclidean', 'linear'] as const) {
    it(`${kernel}: ORT (2 threads) == ORT (1 thread) == js-reference == brute force`, async () => {
      const expected = bruteForceDense(x, n, d, c, k, kernel);
      const stats = createDenseStats();
      const a = await assignDense(ort, x, n, d, c, k, kernel, 512, stats);
      expect(a).toEqual(expected);
      expect(await assignDense(ort1, x, n, d, c, k, kernel)).toEqual(a);
      expect(await assignDense(js, x, n, d, c, k, kernel, 700)).toEqual(a);
      expect(stats.rows).toBe(n);
    });
  }

  it('a point that is one of the centres gets that centre', async () => {
    const out = await assignDense(ort, c, k, d, c, k, 'euclidean');
    const firstCopy = new Uint16Array(k);
    for (let j = 0; j < k; j++) {
      let f = j;
      for (let q = 0; q < j; q++) if (c.subarray(q * d, q * d + d).every((v, l) => v === c[j * d + l])) { f = q; break; }
      firstCopy[j] = f;
    }
    expect(out).toEqual(firstCopy);
  });
});

describe('prepared centres (reused across calls)', () => {
  const d = 784;
  const bankRows = 300;
  const bank = new Uint8Array(readMnistImages(bankRows, 20_000));
  // Centre rows out of order and repeated (as a model's bank positions are), a feature subset.
  const rows = Uint32Array.from({ length: 97 }, (_, j) => (j * 37 + 11) % bankRows);
  const features = Uint32Array.from({ length: 392 }, (_, l) => (l * 2 + (l % 3 === 0 ? 1 : 0)) % d).sort();
  const m = features.length;
  const k = rows.length;
  const gathered = new Float32Array(k * m);
  for (let j = 0; j < k; j++) for (let l = 0; l < m; l++) gathered[j * m + l] = bank[rows[j]! * d + features[l]!]!;

  for (const kernel of ['euclidean', 'linear'] as const) {
    it(`${kernel}: gatherDenseCentres == prepareDenseCentres of the gathered rows, and the prepared kernel == nearestCentresDense`, async () => {
      const a = gatherDenseCentres(bank, d, rows, features, kernel);
      const b = prepareDenseCentres(gathered, k, m, kernel);
      expect(a.ct).toEqual(b.ct);
      expect(a.h64).toEqual(b.h64);
      expect(a.h32).toEqual(b.h32);
      expect([a.cmax, a.hmax]).toEqual([b.cmax, b.hmax]);
      const n = 400;
      const x = readMnistImages(n, 30_000);
      const xs = new Float32Array(n * m);
      for (let i = 0; i < n; i++) for (let l = 0; l < m; l++) xs[i * m + l] = x[i * d + features[l]!]!;
      const expected = bruteForceDense(xs, n, m, gathered, k, kernel);
      const plain = await assignDense(ort, xs, n, m, gathered, k, kernel);
      expect(plain).toEqual(expected);
      // Twice with the same prepared centres: nothing in them is consumed by a call.
      for (let rep = 0; rep < 2; rep++) {
        const out = new Uint16Array(n * 2);
        await nearestCentresDensePrepared(ort1, xs, n, a, out, 2, 1, { blockRows: 150 });
        expect(Uint16Array.from({ length: n }, (_, i) => out[i * 2 + 1]!)).toEqual(expected);
      }
    });
  }

  it('rejects centre rows and features outside the source', () => {
    expect(() => gatherDenseCentres(bank, d, [bankRows], features, 'euclidean')).toThrow(/centre row 300 out of range/);
    expect(() => gatherDenseCentres(bank, d, rows, Uint32Array.of(784), 'euclidean')).toThrow(/feature 784 out of range/);
    expect(() => gatherDenseCentres(bank, d, rows, features, 'cosine' as DenseKernel)).toThrow(/unknown kernel/);
  });
});
