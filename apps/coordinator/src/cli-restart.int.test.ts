/**
 * `cmbn train --remote` survives a coordinator restart: a real coordinator process, a real worker
 * process and the CLI as users run it (`npx tsx apps/cli/src/main.ts train --remote …`); the
 * coordinator is SIGKILLed mid-run and a new one is started on the same port.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { getDb, listRuns } from '@cmbn/registry';
import { REPO_ROOT, api, freePort, spawnCoordinator, until, useRestartTest } from './test-helpers.ts';

const PARAMS = { V: 12, k: [80, 40], clusters: 10, seed: 5 };
const FLAGS = ['--dataset', 'mnist-train', '--limit', '400', '--V', '12', '--k', '80,40', '--clusters', '10', '--seed', '5', '--shard-size', '1'];
const t = useRestartTest();

beforeAll(() => {
  getDb(t.db.url);
});

describe('cmbn train --remote across a coordinator restart', () => {
  it('reconnects, keeps following the run and exits 0 with the local modelHash', async () => {
    const port = await freePort();
    const { env, local, first } = await t.startSlowRun(PARAMS, { PORT: String(port) });
    const url = `http://127.0.0.1:${port}`;
    const out = await mkdtemp(join(tmpdir(), 'cmbn-cli-out-'));
    expect(first.url).toBe(url);

    const cli = spawn('npx', ['tsx', 'apps/cli/src/main.ts', 'train', '--remote', url, ...FLAGS, '--json', '--out', join(out, 'model'), '--reconnect-timeout', '120'], {
      cwd: REPO_ROOT,
      env: { ...process.env, CMBN_API_TOKEN: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    cli.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    cli.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((r) => cli.once('exit', (code) => r(code)));
    try {
      const runId = await until('the CLI to submit its run', async () => (await listRuns({ limit: 1 }))[0]?.id, 120_000, 200);
      const a = api(url);
      await until('3 shards of layer 1 done', async () => (await a.json(`/v1/runs/${runId}`)).body.layers[0].shardsDone >= 3, 60_000);

      first.proc.kill('SIGKILL');
      await first.exited;
      await until('the CLI to report the lost connection', async () => /connection to the coordinator at .* lost/.test(stderr), 30_000);
      expect(cli.exitCode).toBeNull();

      const second = await spawnCoordinator(env);
      t.children.push(second);
      expect(second.url).toBe(url);

      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 180_000))]);
      if (code === 'timeout') cli.kill('SIGKILL');
      expect(code, stderr.slice(-3000)).toBe(0);
      expect(stderr).toMatch(/connection to the coordinator is back/);
      expect(stderr.match(/ lost \(/g)?.length, stderr).toBe(1);
      const summary = JSON.parse(stdout) as { modelHash: string; runId: string };
      expect(summary.runId).toBe(runId);
      expect(summary.modelHash).toBe(local.modelHash);
    } finally {
      cli.kill('SIGKILL');
      await rm(out, { recursive: true, force: true });
    }
  }, 300_000);
});
