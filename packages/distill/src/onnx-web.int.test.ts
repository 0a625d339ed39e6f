/**
 * The browser route of docs/STUDENTS.md, run as written: its onnxruntime-web snippet, taken from the
 * doc itself, runs in Debian's chromium (playwright-core) on a saved student's files served over
 * HTTP, and gets the labels that `cmbn predict` gets from the same files (the student predictor),
 * for model.onnx (the snippet) and model.int8.onnx (the same snippet on the int8 file).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readMnist } from './mnist-fixture.ts';
import { activationRanges } from './calibrate.ts';
import { createStudentPredictor } from './predictor.ts';
import { loadStudent, saveStudent } from './student-files.ts';
import { mnistShapedStudent } from './tiny-student.ts';

const CHROMIUM = process.env.CMBN_CHROMIUM ?? '/usr/bin/chromium';
const DOC = fileURLToPath(new URL('../../../docs/STUDENTS.md', import.meta.url));
// The package exports no ./package.json; its Node entry lies in dist/, beside the browser files.
const ORT_DIST = dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
const N = 200;

let root: string;
let server: Server;
let base: string;
let browser: Browser;
let pixels: Uint8Array;

/** The doc's ```js block under "## Browser (onnxruntime-web)". */
async function docSnippet(): Promise<string> {
  const doc = await readFile(DOC, 'utf8');
  const m = /## Browser \(onnxruntime-web\)\s+```js\n([\s\S]*?)```/.exec(doc);
  if (!m) throw new Error(`${DOC}: no \`\`\`js block under "## Browser (onnxruntime-web)"`);
  return m[1]!;
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.mjs': 'text/javascript', '.js': 'text/javascript', '.json': 'application/json', '.wasm': 'application/wasm' };

/** Serves `/` (the page), `/page.mjs`, `/pixels.bin`, `/student/*` (the saved files) and `/ort/*` (onnxruntime-web's dist). */
function serve(studentDir: string, pageModule: () => string): Promise<Server> {
  const roots: Record<string, string> = { student: studentDir, ort: ORT_DIST };
  const s = createServer((req, res) => {
    void (async () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/') {
        res.writeHead(200, { 'content-type': 'text/html' });
        // The import map stands in for a bundler: 'onnxruntime-web' is the package's browser entry.
        return res.end(`<!doctype html><script type="importmap">{"imports":{"onnxruntime-web":"/ort/ort.bundle.min.mjs"}}</script><script type="module" src="/page.mjs"></script>`);
      }
      if (path === '/page.mjs') {
        res.writeHead(200, { 'content-type': 'text/javascript' });
        return res.end(pageModule());
      }
      if (path === '/pixels.bin') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        return res.end(pixels);
      }
      const [, top, ...rest] = path.split('/');
      const dir = roots[top ?? ''];
      const file = dir === undefined ? undefined : normalize(join(dir, ...rest));
      if (file === undefined || !file.startsWith(dir + sep)) {
        res.writeHead(404);
        return res.end();
      }
      try {
        const bytes = await readFile(file);
        res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
        res.end(bytes);
      } catch {
        res.writeHead(404);
        res.end();
      }
    })();
  });
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)));
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: apt-get install -y chromium (or set CMBN_CHROMIUM)`);
  root = await mkdtemp(join(tmpdir(), 'cmbn-onnx-web-'));
  pixels = readMnist('t10k', N).x.data;
  // What trainStudent returns (calibrated: the QDQ int8 graph), and a student saved before calibration.
  const calibrated = mnistShapedStudent();
  calibrated.activationRanges = await activationRanges(calibrated, { rows: N, cols: 784, dtype: 'uint8', data: pixels });
  await saveStudent(calibrated, join(root, 'calibrated'));
  await saveStudent(mnistShapedStudent(), join(root, 'uncalibrated'));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'], headless: true });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  if (root) await rm(root, { recursive: true, force: true });
});

describe('a saved student in the browser with onnxruntime-web (the docs/STUDENTS.md snippet)', () => {
  it("gets cmbn predict's labels from model.onnx and from model.int8.onnx", async () => {
    const snippet = await docSnippet();
    expect(snippet).toContain('sig.files.fp32');
    let precision: 'fp32' | 'int8' = 'fp32';
    // What the snippet leaves to the page: the pixels and their count; then it reports its labels.
    const pageModule = () =>
      [
        `const n = ${N};`,
        `const pixels = new Uint8Array(await (await fetch('/pixels.bin')).arrayBuffer());`,
        snippet.replace('sig.files.fp32', `sig.files.${precision}`),
        `window.cmbnResult = Array.from(labels);`,
      ].join('\n');
    const x = { rows: N, cols: 784, dtype: 'uint8' as const, data: pixels };
    for (const [kind, p] of [['calibrated', 'fp32'], ['calibrated', 'int8'], ['uncalibrated', 'int8']] as const) {
      precision = p;
      if (server) await new Promise((r) => server!.close(r));
      server = await serve(join(root, kind), pageModule);
      const addr = server.address();
      base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
      const loaded = await loadStudent(join(root, kind));
      expect(loaded.activationRanges !== undefined, kind).toBe(kind === 'calibrated');
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      try {
        await page.goto(base);
        // Strings, not functions: they run in the page, and this package compiles without the DOM's types.
        await page.waitForFunction('window.cmbnResult !== undefined', undefined, { timeout: 60_000 }).catch(() => undefined);
        expect(errors, `${kind} ${p}`).toEqual([]);
        const got = (await page.evaluate('window.cmbnResult')) as number[] | undefined;
        const predictor = await createStudentPredictor(loaded, { precision: p, threads: 1 });
        const want = await predictor.predict(x).finally(() => predictor.dispose());
        expect(got, `${kind} ${p}`).toEqual(Array.from(want.labels!));
        // More than a couple of labels: a constant answer would match whatever the weights were.
        expect(new Set(got).size, `${kind} ${p}`).toBeGreaterThan(2);
      } finally {
        await page.close();
      }
    }
  }, 180_000);
});
