/**
 * The projector's data and its rasterizer, free of the DOM so that Node tests and the benchmark run
 * the same code as the page. Points are drawn straight into a 32-bit RGBA pixel buffer (one
 * `putImageData` per frame): 70,000 points cost one pass of a few additions each, where a canvas
 * path per point (`arc` + `fill`) costs a draw call each.
 */

export interface Points {
  n: number;
  x: Float32Array;
  y: Float32Array;
  cluster: Int32Array;
  truth: Int32Array | null;
}

/** Decodes GET /v1/runs/:id/embedding/points: f32 x[n], f32 y[n], i32 cluster[n], then i32 truth[n] when present. */
export function decodePoints(buf: ArrayBuffer, n: number): Points {
  const has = buf.byteLength === 16 * n;
  if (!has && buf.byteLength !== 12 * n) throw new Error(`points: ${buf.byteLength} bytes for ${n} points (expected ${12 * n} or ${16 * n})`);
  return {
    n,
    x: new Float32Array(buf, 0, n),
    y: new Float32Array(buf, 4 * n, n),
    cluster: new Int32Array(buf, 8 * n, n),
    truth: has ? new Int32Array(buf, 12 * n, n) : null,
  };
}

/** 20 distinguishable colours (Tableau 20 order: dark shades first), as [r, g, b]. */
export const PALETTE: [number, number, number][] = [
  [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
  [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207],
  [174, 199, 232], [255, 187, 120], [152, 223, 138], [255, 152, 150], [197, 176, 213],
  [196, 156, 148], [247, 182, 210], [199, 199, 199], [219, 219, 141], [158, 218, 229],
];

/** A label's colour as a little-endian RGBA word (what a Uint32Array view of ImageData holds). */
export function rgbaWord(label: number, alpha = 255): number {
  const [r, g, b] = PALETTE[((label % PALETTE.length) + PALETTE.length) % PALETTE.length]!;
  return ((alpha << 24) | (b << 16) | (g << 8) | r) >>> 0;
}

/** Each point's colour word for a labelling (dense ids by ascending value, so colours follow the legend). */
export function colourWords(labels: Int32Array): { words: Uint32Array; legend: { label: number; colour: number; count: number }[] } {
  const values = [...new Set(labels)].sort((a, b) => a - b);
  const index = new Map(values.map((v, i) => [v, i]));
  const counts = new Array<number>(values.length).fill(0);
  const words = new Uint32Array(labels.length);
  for (let i = 0; i < labels.length; i++) {
    const j = index.get(labels[i]!)!;
    counts[j]!++;
    words[i] = rgbaWord(j);
  }
  return { words, legend: values.map((label, j) => ({ label, colour: rgbaWord(j), count: counts[j]! })) };
}

/** Data → pixel: px = (x − cx)·scale + w/2, py = h/2 − (y − cy)·scale. */
export interface View {
  cx: number;
  cy: number;
  scale: number;
}

/** The view that fits every point with a margin. */
export function fitView(p: Points, w: number, h: number, margin = 0.05): View {
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < p.n; i++) {
    const x = p.x[i]!;
    const y = p.y[i]!;
    if (x < x0) x0 = x;
    if (x > x1) x1 = x;
    if (y < y0) y0 = y;
    if (y > y1) y1 = y;
  }
  if (!(x1 >= x0)) return { cx: 0, cy: 0, scale: 1 };
  const sx = (x1 - x0) || 1;
  const sy = (y1 - y0) || 1;
  const scale = Math.min((w * (1 - 2 * margin)) / sx, (h * (1 - 2 * margin)) / sy);
  return { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, scale };
}

/**
 * Clears `out` (w×h RGBA words) to `background` and draws each point as a size×size square of its
 * colour, later points over earlier ones. `visible` (optional) hides points whose entry is 0.
 * Returns how many points landed inside the canvas.
 */
export function rasterize(p: Points, words: Uint32Array, view: View, w: number, h: number, out: Uint32Array, background: number, size = 2, visible?: Uint8Array): number {
  out.fill(background);
  // Hot loop: typed arrays in locals, truncation by `| 0` after an offset that keeps the value
  // positive (so it rounds like Math.round for on-canvas points), no allocation.
  const { n, x, y } = p;
  const sc = view.scale;
  const ox = w / 2 - size / 2 - view.cx * sc + 0.5;
  const oy = h / 2 - size / 2 + view.cy * sc + 0.5;
  const maxX = w - size;
  const maxY = h - size;
  let drawn = 0;
  for (let i = 0; i < n; i++) {
    if (visible !== undefined && visible[i] === 0) continue;
    const fx = x[i]! * sc + ox;
    const fy = oy - y[i]! * sc;
    if (!(fx >= 0 && fy >= 0)) continue; // also drops NaN
    const px = fx | 0;
    const py = fy | 0;
    if (px > maxX || py > maxY) continue;
    const c = words[i]!;
    const at = py * w + px;
    if (size === 1) out[at] = c;
    else if (size === 2) {
      out[at] = c;
      out[at + 1] = c;
      out[at + w] = c;
      out[at + w + 1] = c;
    } else {
      for (let dy = 0; dy < size; dy++) out.fill(c, at + dy * w, at + dy * w + size);
    }
    drawn++;
  }
  return drawn;
}
