/**
 * The real apps on simulated hosts, started as an operator would (docs/DEPLOY.md): the `cmbn` CLI
 * entry (`node --import tsx apps/cli/src/main.ts coordinator|worker|train`) inside each host's
 * namespace, configured only through the environment.
 */
import { join } from 'node:path';
import type { Host } from './netns.ts';
import { REPO_ROOT, spawnOn, type Proc } from './procs.ts';

const CLI = join(REPO_ROOT, 'apps/cli/src/main.ts');
export const COORDINATOR_PORT = 8080;

/** `cmbn …` as a process on `host` (undefined: this machine's root namespace, i.e. "local"). */
export function cmbn(host: Host | undefined, name: string, args: string[], env: Record<string, string | undefined> = {}): Proc {
  return spawnOn(host, name, [process.execPath, '--import', 'tsx', CLI, ...args], env);
}

/** `cmbn coordinator` on `host`:8080; resolves once it listens. */
export async function startCoordinatorOn(host: Host, env: Record<string, string | undefined>): Promise<Proc> {
  const p = cmbn(host, `coordinator@${host.name}`, ['coordinator', '--port', String(COORDINATOR_PORT)], { HOST: host.addr, ...env });
  try {
    await p.waitFor(/listening on port \d+/, 120_000);
  } catch (err) {
    await p.kill();
    throw err;
  }
  return p;
}

/** `cmbn worker` on `host`; resolves once it is connected and ready. */
export async function startWorkerOn(host: Host, env: Record<string, string | undefined>): Promise<Proc> {
  const p = cmbn(host, `worker@${host.name}`, ['worker'], env);
  try {
    await p.waitFor(/worker ready/, 120_000);
  } catch (err) {
    await p.kill();
    throw err;
  }
  return p;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Collects a finished CLI process's output (stdout is the `--json` object). */
export async function cliResult(p: Proc, timeoutMs: number): Promise<CliResult> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
  const code = await Promise.race([p.exited, timedOut]);
  clearTimeout(timer);
  if (code === 'timeout') {
    await p.kill();
    throw new Error(`${p.name} still running after ${timeoutMs} ms; output:\n${p.output().slice(-3000)}`);
  }
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}
