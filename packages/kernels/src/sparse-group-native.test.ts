// The C++ sparse-group kernel (native/sparse-group.cc) against the JS one and brute force. These
// tests need the addon: CI builds it (`npm run build:blas` in .ci/run), so a missing build fails
// here loudly instead of skipping.
import { existsSync } from 'node:fs';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_BLAS_ADDON_PATH, loadBlasAddon } from './blas-backend.ts';
import {
  assignSparseGroup,
  assignSparseGroupJs,
  assignSparseGroupWith,
  buildSparseGroupIndex,
  buildSparseGroupIndexJs,
  buildSparseGroupIndexWith,
  type SparseGroupIndex,
} from './nearest-centres-sparse-group.ts';
import { sparseKernelAddon } from './sparse-kernel.ts';
import { SPARSE_CASE as S, bruteForceSparse, randomSparseGroup, sparseTieGroup, sparseTies } from './test-helpers.ts';

if (!existsSync(DEFAULT_BLAS_ADDON_PATH)) {
  throw new Error(`the OpenBLAS addon is not built (${DEFAULT_BLAS_ADDON_PATH}): run \`npm run build:blas\` first (needs libopenblas-dev)`);
}

const addon = loadBlasAddon(DEFAULT_BLAS_ADDON_PATH);
/** Mirrors kReplayRatio in native/sparse-group-core.h: a point replays when its entries × this < G·k. */
const NATIVE_REPLAY_RATIO = 16;

/** How many points the native assignment replays (the rest it scans). */
function replayed(idx: SparseGroupIndex, codes: Uint16Array, n: number): number {
  let count = 0;
  for (let i = 0; i < n; i++) {
    let total = 0;
    for (let u = 0; u < idx.Vp; u++) {
      const f = u * idx.kp + codes[i * idx.Vp + u]!;
      total += idx.offsets[f + 1]! - idx.offsets[f]!;
    }
    if (total * NATIVE_REPLAY_RATIO < idx.G * idx.k) count++;
  }
  return count;
}

/**
 * The native index equals the JS one value for value, and the native assignment from either index
 * equals the JS assignment and brute force, column by column, leaving the other columns alone.
 */
function expectNativeMatches(seed: number, n: number, Vp: number, kp: number, k: number, G: number, a: number, stride = G + 3, offset = 1): { replayed: number } {
  const { codes, clusterings } = randomSparseGroup(seed, n, Vp, kp, k, G, a);
  const js = buildSparseGroupIndexJs(Vp, kp, clusterings, k);
  const nat = buildSparseGroupIndexWith(addon, Vp, kp, clusterings, k);
  expect(nat.slots).toBeInstanceOf(G * k <= 65536 ? Uint16Array : Uint32Array);
  expect(Array.from(nat.offsets)).toEqual(Array.from(js.offsets));
  expect(Array.from(nat.slots)).toEqual(Array.from(js.slots));
  const len = Math.max(n * stride, n * stride + offset + G - stride) + 1;
  const want = new Uint16Array(len).fill(9999);
  const wantAcc = assignSparseGroupJs(js, codes, n, want, stride, offset);
  for (const idx of [nat, js]) {
    const got = new Uint16Array(len).fill(9999);
    expect(assignSparseGroupWith(addon, idx, codes, n, got, stride, offset)).toBe(wantAcc);
    expect(got).toEqual(want);
  }
  // Overlapping rows (stride < G) keep only the later row's answers, so brute force applies only without.
  if (stride >= G) clusterings.forEach((c, g) => {
    const brute = bruteForceSparse(codes, n, Vp, kp, c.keptFeatures, c.centreCodes, k);
    for (let i = 0; i < n; i++) expect(want[i * stride + offset + g]).toBe(brute[i]);
  });
  return { replayed: replayed(nat, codes, n) };
}

describe('the native sparse-group kernel', () => {
  const cases: Array<[seed: number, n: number, Vp: number, kp: number, k: number, G: number, a: number, replay: 'all' | 'none' | 'some']> = [
    [1, 300, 20, 3, 40, 5, 0.5, 'none'], // long lists, many ties: the scan
    [2, 300, 40, 60, 15, 7, 0.5, 'none'],
    [8, 300, 10, 200, 100, 5, 0.5, 'some'], // short lists: mostly replay, some scans in the same blocks
    [9, 300, 6, 400, 200, 3, 0.9, 'some'], // replay with duplicates of centre rows among the points
    [11, 300, 12, 100, 80, 4, 0.6, 'some'], // mostly scans, some replays
    [3, 200, 10, 2, 1, 3, 0.5, 'none'], // k = 1
    [4, 200, 1, 4, 3, 4, 1, 'none'], // Vp = 1
    [5, 200, 30, 10, 25, 3, 0, 'all'], // nothing kept: centre 0 everywhere, by the replay of nothing
    [6, 700, 12, 40, 9, 1, 0.7, 'some'], // G = 1, many point blocks with a partial last one
    [7, 400, 50, 30, 300, 2, 0.5, 'none'], // G·k large → small blocks
  ];
  for (const [seed, n, Vp, kp, k, G, a, replay] of cases) {
    it(`equals JS and brute force: n=${n} Vp=${Vp} kp=${kp} k=${k} G=${G} a=${a} (replay: ${replay})`, () => {
      const r = expectNativeMatches(seed, n, Vp, kp, k, G, a);
      if (replay === 'all') expect(r.replayed).toBe(n);
      else if (replay === 'none') expect(r.replayed).toBe(0);
      else expect(r.replayed > 0 && r.replayed < n).toBe(true);
    });
  }

  it('odd strides and offsets, n = 0 and n = 1', () => {
    expectNativeMatches(21, 37, 9, 13, 11, 3, 0.6, 7, 4);
    expectNativeMatches(22, 1, 9, 13, 11, 3, 0.6, 3, 0);
    expectNativeMatches(23, 0, 9, 13, 11, 3, 0.6);
    // Row stride smaller than G: rows overlap, the later row's answers win, as in JS.
    expectNativeMatches(24, 50, 8, 10, 7, 4, 0.6, 2, 0);
  });

  it('Uint32 slots when G·k > 65536', () => {
    expectNativeMatches(25, 40, 3, 5, 40000, 2, 0.5);
  });

  it('breaks ties to the lowest centre in each clustering of the group', () => {
    // Point codes (1, 2, 3). Clustering 0: centres 0..2 share one feature each → 0 wins.
    // Clustering 1: centre 2 shares two → 2 wins; clustering 2: nothing kept → 0.
    const { Vp, kp, point } = sparseTies();
    const idx = buildSparseGroupIndexWith(addon, Vp, kp, sparseTieGroup(), 3);
    const out = new Uint16Array(3);
    assignSparseGroupWith(addon, idx, point, 1, out, 3, 0);
    expect(Array.from(out)).toEqual([0, 2, 0]);
  });

  it('property: native == JS == brute force', () => {
    fc.assert(
      fc.property(
        S.seed, S.n, S.Vp, S.kp, S.k, S.G, S.a,
        (seed, n, Vp, kp, k, G, a) => {
          expectNativeMatches(seed, n, Vp, kp, k, G, a);
        },
      ),
      { numRuns: 200 },
    );
  });

  describe('rejects bad arguments instead of reading or writing past them', () => {
    const { codes, clusterings } = randomSparseGroup(9, 10, 4, 5, 3, 2, 0.5);
    const idx = buildSparseGroupIndexWith(addon, 4, 5, clusterings, 3);
    const assign = (over: Partial<{ offsets: Int32Array; slots: Uint16Array | Uint32Array; codes: Uint16Array; n: number; out: Uint16Array; stride: number; offset: number; G: number }>) => () =>
      addon.sparseGroupAssign(over.offsets ?? idx.offsets, over.slots ?? idx.slots, 4, 5, 3, over.G ?? 2, over.codes ?? codes, over.n ?? 10, over.out ?? new Uint16Array(20), over.stride ?? 2, over.offset ?? 0);

    it('assignment: a code id ≥ kp, short or misshapen arrays, bad offsets or slots', () => {
      expect(assign({})).not.toThrow();
      const bad = codes.slice();
      bad[7] = 5;
      expect(assign({ codes: bad })).toThrow(new RangeError('codes[7] = 5 is not < kp = 5'));
      expect(assign({ out: new Uint16Array(19) })).toThrow(RangeError);
      expect(assign({ offset: 1 })).toThrow(/too short/);
      expect(assign({ codes: codes.subarray(1) })).toThrow(/codes has 39 values, need n\*Vp = 40/);
      expect(assign({ offsets: idx.offsets.subarray(1) })).toThrow(/offsets has 20 values/);
      expect(assign({ n: -1 })).toThrow(RangeError);
      expect(assign({ n: 1.5 })).toThrow(RangeError);
      // List ends past the slots, decreasing ranges, negative starts.
      const n = idx.slots.length;
      for (const o of [idx.offsets.map((_, f) => (f === 0 ? 0 : n + 1)), idx.offsets.map((_, f) => Math.max(0, n - f)), idx.offsets.map(() => -1)]) {
        expect(assign({ offsets: o })).toThrow(/offsets\[\d+\.\.\d+\] is not a range within the \d+ slots/);
      }
      const o = idx.offsets.slice();
      o.fill(idx.slots.length, 1);
      o[0] = idx.slots.length; // every list empty at the end: fine
      expect(assign({ offsets: o })).not.toThrow();
      const tooFar = Uint16Array.from(idx.slots);
      tooFar[0] = 6; // G·k = 6
      expect(assign({ slots: tooFar })).toThrow(/slots\[0\] = 6 is not < G\*k = 6/);
      expect(assign({ G: 1 })).toThrow(RangeError); // slots of clustering 1 are then out of range
    });

    it('assignment: wrong types and argument count', () => {
      expect(assign({ slots: new Int32Array(idx.slots) as unknown as Uint32Array })).toThrow(TypeError);
      expect(assign({ codes: new Uint8Array(40) as unknown as Uint16Array })).toThrow(TypeError);
      expect(() => (addon.sparseGroupAssign as (...a: unknown[]) => number)(idx.offsets)).toThrow(TypeError);
    });

    it('build: a kept feature or centre code out of range, short centre codes, no clusterings', () => {
      const cc = clusterings[0]!.centreCodes;
      const build = (kept: Uint32Array, centreCodes: Uint16Array) => () => addon.sparseGroupBuild(4, 5, 3, [kept], [centreCodes]);
      expect(build(Uint32Array.from([20]), cc)).toThrow(new RangeError('kept feature 20 out of range 0..19'));
      const badCodes = cc.slice();
      badCodes[5] = 5;
      expect(build(Uint32Array.from([0, 1]), badCodes)).toThrow(new RangeError('centreCodes[5] = 5 is not < kp = 5'));
      expect(build(Uint32Array.from([0]), cc.subarray(1))).toThrow(/centreCodes has 11 values, need k\*Vp = 12/);
      expect(() => addon.sparseGroupBuild(4, 5, 3, [], [])).toThrow(RangeError);
      expect(() => addon.sparseGroupBuild(4, 5, 0, [Uint32Array.from([0])], [cc])).toThrow(RangeError);
      expect(() => addon.sparseGroupBuild(4, 5, 3, [Uint32Array.from([0])], [])).toThrow(RangeError);
      expect(() => addon.sparseGroupBuild(4, 5, 3, [new Int32Array(1) as unknown as Uint32Array], [cc])).toThrow(TypeError);
    });
  });
});

describe('CMBN_SPARSE_KERNEL', () => {
  const saved = { kernel: process.env['CMBN_SPARSE_KERNEL'], addon: process.env['CMBN_BLAS_ADDON'] };
  afterEach(() => {
    for (const [k, v] of [['CMBN_SPARSE_KERNEL', saved.kernel], ['CMBN_BLAS_ADDON', saved.addon]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    vi.restoreAllMocks();
  });

  it('unset and native run the addon, js the JS loop; the public functions give the same ids either way', () => {
    const { codes, clusterings } = randomSparseGroup(31, 120, 10, 30, 20, 4, 0.6);
    const run = () => {
      const idx = buildSparseGroupIndex(10, 30, clusterings, 20);
      const out = new Uint16Array(120 * 4);
      const acc = assignSparseGroup(idx, codes, 120, out, 4, 0);
      return { slotType: idx.slots.constructor.name, out, acc };
    };
    delete process.env['CMBN_SPARSE_KERNEL'];
    expect(sparseKernelAddon()).not.toBeNull();
    const byDefault = run();
    process.env['CMBN_SPARSE_KERNEL'] = 'native';
    expect(sparseKernelAddon()).not.toBeNull();
    process.env['CMBN_SPARSE_KERNEL'] = 'js';
    expect(sparseKernelAddon()).toBeNull();
    const js = run();
    expect(byDefault.slotType).toBe('Uint16Array');
    expect(js.slotType).toBe('Uint32Array');
    expect(byDefault.out).toEqual(js.out);
    expect(byDefault.acc).toBe(js.acc);
    // The public assignment validates through the addon too.
    delete process.env['CMBN_SPARSE_KERNEL'];
    const bad = codes.slice();
    bad[0] = 30;
    expect(() => assignSparseGroup(buildSparseGroupIndex(10, 30, clusterings, 20), bad, 120, new Uint16Array(480), 4, 0)).toThrow(RangeError);
  });

  it('falls back to JS when the addon is not built: silently by default, with a warning when asked for by name; refuses other values', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    process.env['CMBN_BLAS_ADDON'] = '/nonexistent/cmbn_blas.node';
    delete process.env['CMBN_SPARSE_KERNEL'];
    expect(sparseKernelAddon()).toBeNull();
    expect(warn).not.toHaveBeenCalled();
    process.env['CMBN_SPARSE_KERNEL'] = 'native';
    expect(sparseKernelAddon()).toBeNull();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toMatch(/not built/);
    process.env['CMBN_SPARSE_KERNEL'] = 'fast';
    expect(() => sparseKernelAddon()).toThrow(/CMBN_SPARSE_KERNEL must be 'native' or 'js'/);
  });
});
