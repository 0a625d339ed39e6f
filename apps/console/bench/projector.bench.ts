/**
 * The projector's drawing speed at 70,000 points (MNIST's size), in Debian's chromium with the GPU
 * off (software canvas, the slow case), against the obvious canvas baseline in the same browser run:
 *
 * - projector: lib/points.ts' `rasterize` into one RGBA pixel buffer + one `putImageData` per frame
 *   (what the console's projector does);
 * - baseline: one `fillStyle` + `fillRect(2×2)` per point (the usual canvas scatter).
 *
 * Each frame pans the view, so nothing can be cached between frames, and ends with a 1-pixel
 * `getImageData`, which waits for the canvas to finish drawing (both paths pay it). Reported: the
 * median and p95 milliseconds of F frames, frames/s of a continuous requestAnimationFrame pan, and
 * the baseline/projector ratio. Target: a frame within 16.7 ms (60 frames/s) at 70,000 points.
 *
 *   npm run bench:console -- [--points 70000] [--frames 100] [--json]
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { build } from 'vite';
import type * as PointsLib from '../src/lib/points.ts';

const { values: args } = parseArgs({
  options: { points: { type: 'string', default: '70000' }, frames: { type: 'string', default: '100' }, json: { type: 'boolean', default: false } },
});
const N = Number(args.points);
const FRAMES = Number(args.frames);
const CHROMIUM = process.env.CMBN_CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: apt-get install -y chromium (or set CMBN_CHROMIUM)`);

/** lib/points.ts as a browser script exposing `window.cmbnPoints` (the same source the console bundles). */
async function pointsScript(): Promise<string> {
  const out = await build({
    configFile: false,
    logLevel: 'silent',
    build: {
      write: false,
      lib: { entry: fileURLToPath(new URL('../src/lib/points.ts', import.meta.url)), formats: ['iife'], name: 'cmbnPoints' },
      minify: false,
    },
  });
  const chunks = (Array.isArray(out) ? out : [out]).flatMap((o) => ('output' in o ? o.output : []));
  const js = chunks.find((c) => c.type === 'chunk');
  if (!js || js.type !== 'chunk') throw new Error('vite produced no chunk for lib/points.ts');
  return js.code;
}

interface Timing {
  medianMs: number;
  p95Ms: number;
  /** Share of the timed frames drawn within 16.7 ms. */
  within16ms: number;
  fps: number;
}

const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'], headless: true });
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 700 } });
  await page.setContent('<canvas id="c" width="800" height="560"></canvas>');
  await page.addScriptTag({ content: await pointsScript() });
  // tsx compiles this file with esbuild's keepNames, whose __name() calls travel into page.evaluate.
  await page.addScriptTag({ content: 'window.__name = (f) => f;' });
  const result = await page.evaluate(
    async ({ n, frames }) => {
      const lib = (globalThis as unknown as { cmbnPoints: typeof PointsLib }).cmbnPoints;
      const W = 800;
      const H = 560;
      // Ten Gaussian blobs, labels 0..9, from a fixed LCG (the same points every run).
      let s = 12345;
      const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
      const gauss = () => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
      const x = new Float32Array(n);
      const y = new Float32Array(n);
      const cluster = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const c = i % 10;
        cluster[i] = c;
        x[i] = Math.cos(c * 0.63) * 4 + gauss();
        y[i] = Math.sin(c * 0.63) * 4 + gauss();
      }
      const pts = { n, x, y, cluster, truth: null };
      const { words } = lib.colourWords(cluster);
      const css = Array.from({ length: 10 }, (_, c) => `rgb(${lib.PALETTE[c]!.join(',')})`);
      // (Type-checked without the DOM library: the browser objects used are described structurally.)
      interface Ctx {
        fillStyle: string;
        fillRect(x: number, y: number, w: number, h: number): void;
        getImageData(x: number, y: number, w: number, h: number): unknown;
        createImageData(w: number, h: number): { data: Uint8ClampedArray };
        putImageData(img: unknown, x: number, y: number): void;
      }
      const g = globalThis as unknown as { document: { getElementById(id: string): { getContext(k: '2d'): Ctx } }; requestAnimationFrame(fn: () => void): void };
      const requestAnimationFrame = (fn: () => void) => g.requestAnimationFrame(fn);
      const ctx = g.document.getElementById('c').getContext('2d');
      const base = lib.fitView(pts, W, H);
      const viewAt = (f: number) => ({ ...base, cx: base.cx + Math.sin(f / 7) * 0.5, cy: base.cy + Math.cos(f / 9) * 0.5 });
      const img = ctx.createImageData(W, H);
      const buf = new Uint32Array(img.data.buffer);
      const drawFast = (f: number) => {
        lib.rasterize(pts, words, viewAt(f), W, H, buf, 0xffffffff, 1);
        ctx.putImageData(img, 0, 0);
      };
      const drawBaseline = (f: number) => {
        const v = viewAt(f);
        ctx.fillStyle = '#fff';
        ctx.fillRect(0, 0, W, H);
        for (let i = 0; i < n; i++) {
          ctx.fillStyle = css[cluster[i]!]!;
          ctx.fillRect((x[i]! - v.cx) * v.scale + W / 2, H / 2 - (y[i]! - v.cy) * v.scale, 2, 2);
        }
      };
      const time = async (draw: (f: number) => void): Promise<{ medianMs: number; p95Ms: number; within16ms: number; fps: number }> => {
        draw(0);
        ctx.getImageData(0, 0, 1, 1);
        const ms: number[] = [];
        for (let f = 1; f <= frames; f++) {
          const t0 = performance.now();
          draw(f);
          ctx.getImageData(0, 0, 1, 1); // wait for the canvas to finish
          ms.push(performance.now() - t0);
        }
        ms.sort((a, b) => a - b);
        // Continuous panning for ~2 s through requestAnimationFrame: the frame rate a user sees.
        const fps = await new Promise<number>((resolve) => {
          let count = 0;
          const start = performance.now();
          const step = () => {
            draw(count++);
            if (performance.now() - start < 2000) requestAnimationFrame(step);
            else resolve((count * 1000) / (performance.now() - start));
          };
          requestAnimationFrame(step);
        });
        return { medianMs: ms[Math.floor(ms.length / 2)]!, p95Ms: ms[Math.min(ms.length - 1, Math.floor(ms.length * 0.95))]!, within16ms: ms.filter((t) => t <= 16.7).length / ms.length, fps };
      };
      const projector = await time(drawFast);
      const baseline = await time(drawBaseline);
      return { projector, baseline };
    },
    { n: N, frames: FRAMES },
  );
  const p: Timing = result.projector;
  const b: Timing = result.baseline;
  const out = {
    points: N,
    frames: FRAMES,
    canvas: '800x560',
    browser: `chromium ${browser.version()} (--disable-gpu)`,
    projector: p,
    baseline: b,
    speedup: b.medianMs / p.medianMs,
    target: { frameMs: 16.7, met: p.p95Ms <= 16.7 },
  };
  if (args.json) console.log(JSON.stringify(out, null, 2));
  else {
    const row = (name: string, t: Timing) => `${name.padEnd(36)} median ${t.medianMs.toFixed(2).padStart(7)} ms   p95 ${t.p95Ms.toFixed(2).padStart(7)} ms   ${(100 * t.within16ms).toFixed(0).padStart(3)} % ≤ 16.7 ms   ${t.fps.toFixed(1).padStart(6)} frames/s`;
    console.log(`projector drawing, ${N.toLocaleString('en-US')} points, 800×560 canvas, ${out.browser}, ${FRAMES} frames each`);
    console.log(row('projector (rasterize + putImageData)', p));
    console.log(row('baseline (fillStyle + fillRect each)', b));
    console.log(`speedup ${out.speedup.toFixed(1)}× (baseline median / projector median); target p95 ≤ 16.7 ms: ${out.target.met ? 'met' : 'MISSED'}`);
  }
} finally {
  await browser.close();
}
