/**
 * The console end to end: Debian's chromium (playwright-core) against a real coordinator process
 * with a named token, a real worker, Redis and Postgres, on 1,000 MNIST digits. It logs in, watches
 * a run's live progress over SSE (cookie-authenticated), and checks the runs list, the per-layer
 * table, the projector and the confusion matrix, and the models page against the API's numbers.
 * Screenshots go to .cmbn-screenshots/. No browser or no built assets is a failure, not a skip.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy, loadDataset } from '@cmbn/data';
import { createTestDatabase, type TestDatabase } from '@cmbn/registry';
// The coordinator's integration-test helpers (real child processes, deadlines on every wait).
import { REPO_ROOT, api, dropPrefix, spawnCoordinator, spawnWorker, stop, submit, tempArtifacts, uniquePrefix, until, upload, waitForRun, type Api, type Child } from '@cmbn/coordinator/test-helpers';

export const CHROMIUM = process.env.CMBN_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking'];
const DIST = join(REPO_ROOT, 'apps/console/dist/index.html');
const SHOTS = join(REPO_ROOT, '.cmbn-screenshots');
const TOKEN = 'e2e-console-token-4f1c';
const N = 1000;
const PARAMS = { V: 16, clusters: 10, seed: 5 };

let db: TestDatabase;
let artifacts: Awaited<ReturnType<typeof tempArtifacts>>;
let coordinator: Child & { url: string };
let worker: Child;
let browser: Browser;
let a: Api;
let datasetId: string;
let labelsId: string;
let truth: Int32Array;
const prefix = uniquePrefix();

beforeAll(async () => {
  // Fail, with what to do, rather than skip: CI must not pass a console it never opened.
  if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: apt-get install -y chromium (or set CMBN_CHROMIUM); the console e2e tests need one`);
  if (!existsSync(DIST)) throw new Error(`the console is not built (${DIST} is missing): run npm run build:console first`);
  await mkdir(SHOTS, { recursive: true });
  [db, artifacts] = await Promise.all([createTestDatabase(), tempArtifacts()]);
  [coordinator, worker, browser] = await Promise.all([
    spawnCoordinator({ DATABASE_URL: db.url, CMBN_ARTIFACTS: artifacts.url, CMBN_QUEUE_PREFIX: prefix, CMBN_API_TOKENS: `e2e:${TOKEN}`, CMBN_RECONCILE_INTERVAL_MS: '1000', LOG_LEVEL: 'warn' }),
    // A short pause per shard keeps layers in flight long enough to watch them progress.
    spawnWorker({ prefix, artifacts: artifacts.url, databaseUrl: db.url, testDelayMs: 120 }),
    chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true }),
  ]);
  a = api(coordinator.url, TOKEN);
  const ds = await loadDataset('mnist-train', { limit: N });
  truth = ds.labels!;
  datasetId = (await upload(a, encodeNpy(ds.x), 'name=mnist1000')).body.id;
  labelsId = (await upload(a, encodeNpy({ rows: N, cols: 1, dtype: 'int32', data: truth }), `name=labels1000&labelsFor=${datasetId}`)).body.id;
});

afterAll(async () => {
  await browser?.close();
  if (worker) await stop(worker);
  if (coordinator) await stop(coordinator);
  await db?.drop();
  await artifacts?.remove();
  await dropPrefix(prefix);
});

const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `console-${name}.png`), fullPage: true });
const attr = (page: Page, selector: string, name: string) => page.locator(selector).getAttribute(name);

async function login(page: Page): Promise<void> {
  await page.goto(coordinator.url + '/');
  await page.locator('[data-testid=login] input[name=token]').fill('not-the-token');
  await page.locator('[data-testid=login] button').click();
  await expect.poll(() => page.locator('[data-testid=login-error]').textContent()).toMatch(/invalid API token/);
  await page.locator('[data-testid=login] input[name=token]').fill(TOKEN);
  await page.locator('[data-testid=login] button').click();
  await page.locator('[data-testid=principal]').waitFor();
  expect(await page.locator('[data-testid=principal]').textContent()).toMatch(/^e2e/);
}

describe('console', () => {
  let page: Page;
  let runId: string;

  it('asks for the token, then shows live progress of a run from its SSE stream', async () => {
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await login(page);
    runId = (await submit(a, { datasetId, labelsId, params: PARAMS, shardSize: 2 })).body.id;
    await page.goto(`${coordinator.url}/#/runs`);
    await page.locator(`tr[data-run-id="${runId}"] a`).click();
    await page.locator(`[data-testid=run-page][data-run-id="${runId}"]`).waitFor();
    // Two different in-flight states of a layer, seen in the page: progress arrives live.
    const liveState = async () => {
      const p = page.locator('[data-testid=live-progress]');
      if ((await p.count()) === 0 || (await p.getAttribute('data-stage')) !== 'layer') return undefined;
      const s = { layer: Number(await p.getAttribute('data-layer')), done: Number(await p.getAttribute('data-done')), total: Number(await p.getAttribute('data-total')) };
      return s.done < s.total ? s : undefined;
    };
    const first = await until('a layer in flight on the page', liveState, 60_000, 50);
    expect(first.total).toBe(8); // V=16 clusterings, 2 per shard
    await until('the page to show later progress', async () => {
      const s = await liveState();
      return s !== undefined && (s.layer > first.layer || s.done > first.done) ? s : undefined;
    }, 60_000, 50);
    expect(await page.locator('[data-testid=live-progress]').textContent()).toMatch(/layer \d+ of \d+: \d+\/8 shards.*stream open/);
    await shot(page, 'run-live');
    expect(errors).toEqual([]);
  });

  it('shows the finished run: per-layer table, metrics, projector and confusion matrix with the API\'s numbers', async () => {
    const run = await waitForRun(a, runId, 120_000);
    expect(run.status).toBe('SUCCEEDED');
    await page.locator('[data-testid=run-page][data-status=SUCCEEDED]').waitFor({ timeout: 30_000 });
    const rows = page.locator('[data-testid=layers-table] tbody tr');
    await expect.poll(() => rows.count()).toBe(run.ks.length);
    for (const [i, l] of (run.layers as { shardsDone: number; shardsTotal: number }[]).entries()) {
      expect(await rows.nth(i).locator('[data-col=shards]').textContent()).toBe(`${l.shardsDone}/${l.shardsTotal}`);
    }
    const m = run.metrics as { acc: number; nmi: number; ari: number };
    expect(await page.locator('[data-testid=run-metrics]').textContent()).toBe(`${m.acc.toFixed(4)} / ${m.nmi.toFixed(4)} / ${m.ari.toFixed(4)}`);

    const canvas = '[data-testid=projector-canvas]';
    await page.locator(canvas).waitFor({ timeout: 30_000 });
    await expect.poll(() => attr(page, canvas, 'data-drawn')).toBe(String(N));
    expect(await attr(page, canvas, 'data-points')).toBe(String(N));
    expect(await attr(page, canvas, 'data-mode')).toBe('truth');
    // The legend counts the true labels of the 1,000 digits.
    const counts = new Map<number, number>();
    for (const t of truth) counts.set(t, (counts.get(t) ?? 0) + 1);
    const legend = await page.locator('[data-testid=legend] li').evaluateAll((els) => els.map((e) => [Number(e.getAttribute('data-label')), Number(e.getAttribute('data-count'))]));
    expect(new Map(legend as [number, number][])).toEqual(counts);
    // Pixels were drawn: well over a few hundred non-white ones (1,000 points of 2×2).
    // (This file is type-checked without the DOM library: the canvas is described structurally.)
    type Canvas2d = { width: number; height: number; getContext(k: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } };
    const inked = await page.locator(canvas).evaluate((el) => {
      const c = el as unknown as Canvas2d;
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] !== 255 || d[i + 1] !== 255 || d[i + 2] !== 255) n++;
      return n;
    });
    expect(inked).toBeGreaterThan(1000);
    // The confusion matrix: every point once, its diagonal is the run's ACC.
    const cm = page.locator('[data-testid=confusion]');
    expect(await cm.getAttribute('data-total')).toBe(String(N));
    expect(Number(await cm.getAttribute('data-trace')) / N).toBeCloseTo(m.acc, 10);
    await page.locator('[data-testid=projector]').scrollIntoViewIfNeeded();
    await shot(page, 'projector');
    // Coloured by cluster: one legend entry per cluster of the API's answer.
    const emb = await a.json(`/v1/runs/${runId}/embedding`);
    await page.locator('input[name=mode]').first().check();
    await expect.poll(() => attr(page, canvas, 'data-mode')).toBe('cluster');
    expect(await page.locator('[data-testid=legend] li').count()).toBe(emb.body.clusterSizes.length);
  });

  it('lists the run with its status, duration and metrics', async () => {
    const run = await waitForRun(a, runId, 1000);
    await page.goto(`${coordinator.url}/#/runs`);
    const row = page.locator(`tr[data-run-id="${runId}"]`);
    await expect.poll(() => row.getAttribute('data-status')).toBe('SUCCEEDED');
    expect(await row.locator('[data-col=acc]').textContent()).toBe(run.metrics.acc.toFixed(4));
    expect(await row.locator('[data-col=nmi]').textContent()).toBe(run.metrics.nmi.toFixed(4));
    expect(await row.locator('[data-col=duration]').textContent()).toMatch(/\d+(\.\d)? s|min/);
    await shot(page, 'runs');
  });

  it('shows the registered student: version, lineage to the run, agreement, speedup, alias history', async () => {
    const sub = await submit(a, { datasetId, labelsId, params: { V: 8, clusters: 10, seed: 2 }, distill: { register: 'e2e-digits', student: { hidden: [16], epochs: 2, augment: 0 } } });
    const run = await waitForRun(a, sub.body.id, 120_000);
    expect(run.status, run.error ?? '').toBe('SUCCEEDED');
    expect((await a.json('/v1/models/e2e-digits/aliases/production', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ version: 1 }) })).status).toBe(200);
    const model = (await a.json('/v1/models/e2e-digits')).body;
    const v1 = model.versions[0];
    await page.goto(`${coordinator.url}/#/models`);
    await page.locator('tr[data-model="e2e-digits"] a').click();
    const row = page.locator('[data-testid=versions-table] tr[data-version="1"]');
    await row.waitFor();
    expect(await row.locator('[data-col=agreement]').textContent()).toBe(v1.metrics.agreement.toFixed(4));
    expect(await row.locator('[data-col=speedup]').textContent()).toMatch(/^[\d,.]+×$/);
    expect(await row.locator(`a[href="#/runs/${sub.body.id}"]`).count()).toBe(1);
    expect(await row.textContent()).toContain('@production');
    const history = page.locator('[data-testid=alias-history-production] tbody tr');
    await expect.poll(() => history.count()).toBe(1);
    // The alias move was made with the named token: the history names it.
    expect(await history.first().textContent()).toContain('e2e');
    const download = await row.locator('a', { hasText: '.tar' }).getAttribute('href');
    const res = await page.evaluate(async (u) => (await fetch(u!)).status, download);
    expect(res).toBe(200);
    await shot(page, 'model');
  });

  it('shows a failed run\'s error on its page and FAILED in the list', async () => {
    // A corrupt eval set fails the distillation at once (no retry): a real failure, not a fake one.
    const x = new Float32Array(120 * 3).map((_, i) => ((i * 37) % 101) / 10);
    const up = await upload(a, encodeNpy({ rows: 120, cols: 3, dtype: 'float32', data: x }), 'name=small');
    const ev = await upload(a, encodeNpy({ rows: 30, cols: 3, dtype: 'float32', data: x.subarray(0, 90) }), 'name=small-eval');
    const sha: string = ev.body.sha256;
    const path = join(artifacts.dir, 'sha256', sha.slice(0, 2), sha.slice(2));
    const bytes = await readFile(path);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    await writeFile(path, bytes);
    const sub = await submit(a, { datasetId: up.body.id, params: { V: 4, k: [20, 10], clusters: 2 }, distill: { student: { hidden: [4], epochs: 1 }, evalDatasetId: ev.body.id } });
    const run = await waitForRun(a, sub.body.id, 60_000);
    expect(run.status).toBe('FAILED');
    await page.goto(`${coordinator.url}/#/runs/${run.id}`);
    await page.locator('[data-testid=run-page][data-status=FAILED]').waitFor();
    expect(await page.locator('[data-testid=run-error]').textContent()).toBe(run.error);
    await page.goto(`${coordinator.url}/#/runs`);
    await expect.poll(() => page.locator(`tr[data-run-id="${run.id}"]`).getAttribute('data-status')).toBe('FAILED');
  });

  it('without the session the page asks for the token and the API and SSE stream refuse (401)', async () => {
    const anon = await browser.newPage();
    await anon.goto(coordinator.url + '/');
    await anon.locator('[data-testid=login]').waitFor();
    const r = await anon.evaluate(async (id) => {
      const list = (await fetch('/v1/runs')).status;
      const sse = await new Promise<string>((resolve) => {
        const es = new EventSource(`/v1/runs/${id}/events`);
        es.onopen = () => resolve('open');
        es.onerror = () => resolve(es.readyState === EventSource.CLOSED ? 'closed' : 'retrying');
      });
      return { list, sse };
    }, runId);
    expect(r).toEqual({ list: 401, sse: 'closed' });
    await anon.close();
    // Logging out ends the session server-side.
    await page.locator('[data-testid=principal] button').click();
    await page.locator('[data-testid=login]').waitFor();
    expect(await page.evaluate(async () => (await fetch('/v1/session')).status)).toBe(401);
  });
});
