/**
 * The README's projector picture: a real MNIST run through the whole stack (a coordinator process
 * with a token, worker processes, Redis, a fresh Postgres database), opened in Debian's chromium
 * through the console's login, and the projector (with its confusion matrix) saved as a PNG.
 *
 *   npm run build:console && npm run console:screenshot -- [--limit 10000] [--V 40] [--workers 2] [--out docs/img/projector.png]
 *
 * Needs the services of NOTES.md; creates and drops its own database, queue prefix and artifacts.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { encodeNpy, loadDataset } from '@cmbn/data';
import { createTestDatabase } from '@cmbn/registry';
import { REPO_ROOT, api, dropPrefix, spawnCoordinator, spawnWorker, stop, submit, tempArtifacts, uniquePrefix, upload, waitForRun, type Child } from '@cmbn/coordinator/test-helpers';

const { values: args } = parseArgs({
  options: {
    limit: { type: 'string', default: '10000' },
    V: { type: 'string', default: '40' },
    seed: { type: 'string', default: '1' },
    workers: { type: 'string', default: '2' },
    out: { type: 'string', default: 'docs/img/projector.png' },
  },
});
const CHROMIUM = process.env.CMBN_CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) throw new Error(`no browser at ${CHROMIUM}: apt-get install -y chromium (or set CMBN_CHROMIUM)`);
if (!existsSync(join(REPO_ROOT, 'apps/console/dist/index.html'))) throw new Error('the console is not built: run npm run build:console first');
const N = Number(args.limit);
const PARAMS = { V: Number(args.V), clusters: 10, seed: Number(args.seed) };
const TOKEN = `screenshot-${Date.now()}`;
const out = resolve(REPO_ROOT, args.out);

const db = await createTestDatabase();
const artifacts = await tempArtifacts();
const prefix = uniquePrefix();
const children: Child[] = [];
const t0 = Date.now();
try {
  const coordinator = await spawnCoordinator({ DATABASE_URL: db.url, CMBN_ARTIFACTS: artifacts.url, CMBN_QUEUE_PREFIX: prefix, CMBN_API_TOKENS: `docs:${TOKEN}`, LOG_LEVEL: 'warn' });
  children.push(coordinator);
  for (let i = 0; i < Number(args.workers); i++) children.push(await spawnWorker({ prefix, artifacts: artifacts.url, databaseUrl: db.url }));
  const a = api(coordinator.url, TOKEN);
  const ds = await loadDataset('mnist-train', { limit: N });
  const datasetId = (await upload(a, encodeNpy(ds.x), `name=mnist-${N}`)).body.id;
  const labelsId = (await upload(a, encodeNpy({ rows: N, cols: 1, dtype: 'int32', data: ds.labels! }), `name=mnist-${N}-labels&labelsFor=${datasetId}`)).body.id;
  const sub = await submit(a, { datasetId, labelsId, params: PARAMS });
  if (sub.status !== 201) throw new Error(`submit: ${JSON.stringify(sub.body)}`);
  const run = await waitForRun(a, sub.body.id, 60 * 60_000);
  if (run.status !== 'SUCCEEDED') throw new Error(`run ${run.id} ended ${run.status}: ${run.error}`);
  process.stderr.write(`run ${run.id}: ${N} digits, V=${PARAMS.V}, ${Math.round((Date.now() - t0) / 1000)} s, ACC ${run.metrics.acc.toFixed(4)} NMI ${run.metrics.nmi.toFixed(4)}\n`);

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'], headless: true });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 }, deviceScaleFactor: 1 });
    await page.goto(coordinator.url + '/');
    await page.locator('[data-testid=login] input[name=token]').fill(TOKEN);
    await page.locator('[data-testid=login] button').click();
    await page.locator('[data-testid=principal]').waitFor();
    await page.goto(`${coordinator.url}/#/runs/${run.id}`);
    const canvas = page.locator('[data-testid=projector-canvas]');
    await canvas.waitFor({ timeout: 60_000 });
    await page.waitForFunction(`document.querySelector('[data-testid=projector-canvas]')?.getAttribute('data-drawn') === '${N}'`, undefined, { timeout: 60_000 });
    await page.locator('[data-testid=projector]').screenshot({ path: out });
    process.stderr.write(`wrote ${out}\n`);
  } finally {
    await browser.close();
  }
} finally {
  for (const c of children.reverse()) await stop(c);
  await db.drop();
  await artifacts.remove();
  await dropPrefix(prefix);
}
