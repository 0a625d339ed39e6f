import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadDataset, type Matrix } from '@cmbn/data';
import { augmentImages, augmentImagesAsync, isSquareImage, MILD_AUGMENT } from './augment.ts';

const digest = (m: Matrix): string => createHash('sha256').update(new Uint8Array(m.data.buffer, m.data.byteOffset, m.data.byteLength)).digest('hex');

/** n 8×8 uint8 images: a bright square at a row-dependent place. */
function squares(n: number): Matrix {
  const data = new Uint8Array(n * 64);
  for (let r = 0; r < n; r++) for (let i = 2; i < 5; i++) for (let j = 2 + (r % 2); j < 5 + (r % 2); j++) data[r * 64 + i * 8 + j] = 200;
  return { rows: n, cols: 64, dtype: 'uint8', data };
}

const NONE = { maxRotateDeg: 0, maxScale: 0, maxShear: 0, maxShift: 0, elasticAlpha: 0 };

describe('augmentImages', () => {
  it('copies row r mod n, unchanged when every distortion is zero', () => {
    const x = squares(3);
    const a = augmentImages(x, 7, 1, NONE);
    expect(a).toMatchObject({ rows: 7, cols: 64, dtype: 'uint8' });
    for (let r = 0; r < 7; r++) expect(Array.from(a.data.subarray(r * 64, (r + 1) * 64))).toEqual(Array.from(x.data.subarray((r % 3) * 64, (r % 3 + 1) * 64)));
  });

  it('is deterministic from the seed, and firstCopy continues the same streams', () => {
    const x = squares(4);
    const a = augmentImages(x, 6, 5);
    expect(augmentImages(x, 6, 5).data).toEqual(a.data);
    expect(augmentImages(x, 6, 6).data).not.toEqual(a.data);
    const tail = augmentImages(x, 2, 5, { firstCopy: 4 });
    // Copy 4+r of the first call is source row (4+r) mod 4 = r, while the tail call distorts row r: same draws.
    expect(tail.data).toEqual(a.data.subarray(4 * 64, 6 * 64));
  });

  it('moves mass without inventing it: values stay in 0..255 and distorted copies differ from the source', () => {
    const x = squares(2);
    for (const opts of [{}, MILD_AUGMENT]) {
      const a = augmentImages(x, 20, 3, opts);
      let changed = 0;
      for (let r = 0; r < 20; r++) {
        let diff = 0;
        for (let j = 0; j < 64; j++) diff += Math.abs(a.data[r * 64 + j]! - x.data[(r % 2) * 64 + j]!);
        if (diff > 0) changed++;
      }
      expect(changed).toBeGreaterThan(15);
      expect(Math.max(...a.data)).toBeLessThanOrEqual(255);
    }
  });

  it('keeps float32 input float32, and refuses non-square rows', () => {
    const f: Matrix = { rows: 1, cols: 16, dtype: 'float32', data: new Float32Array(16).fill(0.5) };
    expect(augmentImages(f, 2, 1, NONE).data).toBeInstanceOf(Float32Array);
    expect(isSquareImage({ cols: 784 })).toBe(true);
    expect(isSquareImage({ cols: 10 })).toBe(false);
    expect(() => augmentImages({ rows: 1, cols: 10, dtype: 'float32', data: new Float32Array(10) }, 1, 1)).toThrow(RangeError);
  });
});

describe('the distortions\' bytes', () => {
  // Digests of the implementation before its 2026-12-04 rewrite (monomorphic stores, no sampling
  // closure), on the first 200 MNIST digits: a student's training set, and so the student, must not
  // change with the speed of its augmentation (bench:augment measures the two side by side).
  it('are those of the earlier implementation: strong, mild, float32 input, no elastic field', async () => {
    const x = (await loadDataset('mnist', { limit: 200 })).x;
    const f: Matrix = { rows: x.rows, cols: x.cols, dtype: 'float32', data: Float32Array.from(x.data, (v) => v / 255) };
    expect(digest(augmentImages(x, 600, 7))).toBe('ca01c5fc87ff2dd638c6b8262510bd7ae8d1a67f9e09bb17aa716cd11ea18db3');
    expect(digest(augmentImages(x, 400, 7, { ...MILD_AUGMENT, firstCopy: 600 }))).toBe('90cc93a42e6b79cfa2d48dcf41f7a9cc7b822361c8fdc123408b7d4c1fd0ee18');
    expect(digest(augmentImages(f, 300, 3))).toBe('f68337ff481961b5670082bc164359932466e3ec3f927b761ce2b21627e9b0ac');
    expect(digest(augmentImages(x, 200, 9, { elasticAlpha: 0 }))).toBe('a8ee740536c27fb5537f936af52c5f650e266d5e0bcc2309befedcb1e217a00f');
  });
});

describe('augmentImagesAsync', () => {
  it('gives augmentImages\' bytes while the event loop keeps running between its chunks', async () => {
    const x = (await loadDataset('mnist', { limit: 100 })).x;
    let ticks = 0;
    let done = false;
    const tick = (): void => {
      ticks++;
      if (!done) setImmediate(tick);
    };
    setImmediate(tick);
    const a = await augmentImagesAsync(x, 1500, 4, MILD_AUGMENT);
    done = true;
    const ticksDuring = ticks;
    expect(digest(a)).toBe(digest(augmentImages(x, 1500, 4, MILD_AUGMENT)));
    // 1500 copies are 6 chunks: the other callback ran between them, not only after the last.
    expect(ticksDuring).toBeGreaterThanOrEqual(5);
  });

  it('stops between chunks when its signal aborts', async () => {
    const x = squares(3);
    const ctl = new AbortController();
    const p = augmentImagesAsync(x, 100_000, 1, {}, ctl.signal);
    setImmediate(() => ctl.abort(new Error('cancelled by request')));
    await expect(p).rejects.toThrow('cancelled by request');
  });
});
