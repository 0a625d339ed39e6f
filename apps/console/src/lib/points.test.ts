import { describe, expect, it } from 'vitest';
import { colourWords, decodePoints, fitView, rasterize, rgbaWord, type Points } from './points.ts';

function pts(xy: [number, number][], cluster?: number[]): Points {
  return { n: xy.length, x: Float32Array.from(xy.map((p) => p[0])), y: Float32Array.from(xy.map((p) => p[1])), cluster: Int32Array.from(cluster ?? xy.map(() => 0)), truth: null };
}

describe('decodePoints', () => {
  it('reads the route layout with and without the truth column, and refuses other sizes', () => {
    const n = 3;
    const buf = new ArrayBuffer(16 * n);
    new Float32Array(buf, 0, n).set([1, 2, 3]);
    new Float32Array(buf, 4 * n, n).set([4, 5, 6]);
    new Int32Array(buf, 8 * n, n).set([7, 8, 9]);
    new Int32Array(buf, 12 * n, n).set([0, 1, 0]);
    const p = decodePoints(buf, n);
    expect([Array.from(p.x), Array.from(p.y), Array.from(p.cluster), Array.from(p.truth!)]).toEqual([[1, 2, 3], [4, 5, 6], [7, 8, 9], [0, 1, 0]]);
    expect(decodePoints(buf.slice(0, 12 * n), n).truth).toBeNull();
    expect(() => decodePoints(new ArrayBuffer(10), n)).toThrow(/10 bytes for 3 points/);
  });
});

describe('rasterize', () => {
  it('puts each point in its pixel: the corners of the fitted view land inside the margin', () => {
    const p = pts([[0, 0], [10, 10], [10, 0], [0, 10]], [0, 1, 2, 3]);
    const w = 100;
    const h = 100;
    const view = fitView(p, w, h, 0.1);
    const out = new Uint32Array(w * h);
    const { words } = colourWords(p.cluster);
    expect(rasterize(p, words, view, w, h, out, 0, 1)).toBe(4);
    const at = (x: number, y: number) => out[y * w + x];
    // y grows upwards in data, downwards in pixels.
    expect(at(10, 90)).toBe(rgbaWord(0));
    expect(at(90, 10)).toBe(rgbaWord(1));
    expect(at(90, 90)).toBe(rgbaWord(2));
    expect(at(10, 10)).toBe(rgbaWord(3));
    expect(out.filter((v) => v !== 0).length).toBe(4);
  });

  it('clips points outside the canvas, hides invisible ones, and draws size×size squares', () => {
    const p = pts([[0, 0], [1000, 0], [0, 0]], [0, 0, 1]);
    const out = new Uint32Array(50 * 50);
    const view = { cx: 0, cy: 0, scale: 1 };
    const { words } = colourWords(p.cluster);
    expect(rasterize(p, words, view, 50, 50, out, 7, 3)).toBe(2);
    expect(out.filter((v) => v !== 7).length).toBe(9);
    expect(rasterize(p, words, view, 50, 50, out, 7, 3, Uint8Array.from([1, 1, 0]))).toBe(1);
    expect(out.filter((v) => v === rgbaWord(0)).length).toBe(9);
  });

  it('gives every label of a legend its count and a colour, ascending by label', () => {
    const { legend, words } = colourWords(Int32Array.from([5, 2, 5, 9, 2, 5]));
    expect(legend.map((l) => [l.label, l.count])).toEqual([[2, 2], [5, 3], [9, 1]]);
    expect(words[0]).toBe(legend[1]!.colour);
    expect(new Set(legend.map((l) => l.colour)).size).toBe(3);
    // Opaque little-endian RGBA: red in the low byte, alpha 255 in the high one.
    expect(rgbaWord(0) >>> 24).toBe(255);
    expect(rgbaWord(0) & 255).toBe(31);
  });
});
