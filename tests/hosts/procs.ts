/**
 * Processes on simulated hosts: `ip netns exec <ns> <cmd>` execs the command in place (no extra
 * fork), so the child's pid is the server's or app's own and a SIGKILL reaches it directly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Host } from './netns.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Proc {
  name: string;
  proc: ChildProcess;
  /** Everything it wrote (stdout and stderr), capped to the last 1 MB. */
  output(): string;
  /** Only what it wrote to stdout (a CLI's --json answer), capped to the last 1 MB. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the first line matching `re` (already written or to come). */
  waitFor(re: RegExp, timeoutMs: number): Promise<string>;
  exited: Promise<number | null>;
  alive(): boolean;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const live = new Set<ChildProcess>();
// A test process that dies takes its servers and apps with it.
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/** `env` is laid over this process's environment; a variable set to undefined is removed, not inherited. */
export function spawnOn(host: Host | undefined, name: string, argv: string[], env: Record<string, string | undefined> = {}): Proc {
  const [cmd, ...args] = [...(host?.wrap ?? []), ...argv];
  const merged = Object.fromEntries(Object.entries({ ...process.env, ...env }).filter((e): e is [string, string] => e[1] !== undefined));
  const proc = spawn(cmd!, args, { cwd: REPO_ROOT, env: merged, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  let out = '';
  let stdout = '';
  let stderr = '';
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  const onData = (b: Buffer) => {
    out = (out + b.toString()).slice(-1_000_000);
    for (const w of [...waiters]) {
      const line = out.split('\n').find((l) => w.re.test(l));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  proc.stdout!.on('data', (b: Buffer) => {
    stdout = (stdout + b.toString()).slice(-1_000_000);
    onData(b);
  });
  proc.stderr!.on('data', (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-1_000_000);
    onData(b);
  });
  let spawnError: Error | undefined;
  const exited = new Promise<number | null>((resolve) => {
    proc.once('error', (err) => {
      spawnError = err;
      live.delete(proc);
      resolve(null);
    });
    proc.once('exit', (code) => {
      live.delete(proc);
      resolve(code);
    });
  });
  const closed = new Promise<void>((resolve) => {
    proc.once('close', () => resolve());
    proc.once('error', () => resolve());
  });
  const alive = () => proc.exitCode === null && proc.signalCode === null && spawnError === undefined;
  return {
    name,
    proc,
    output: () => out,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    alive,
    waitFor(re, timeoutMs) {
      const line = out.split('\n').find((l) => re.test(l));
      if (line !== undefined) return Promise.resolve(line);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`${name}: timed out after ${timeoutMs} ms waiting for ${re}; output:\n${out.slice(-3000)}`)), timeoutMs);
        waiters.push({ re, resolve: (l) => (clearTimeout(t), resolve(l)) });
        // After 'close' (all output read), not 'exit': the last stderr line is usually the reason.
        void closed.then(() => {
          clearTimeout(t);
          reject(new Error(`${name} exited (${proc.exitCode ?? proc.signalCode}${spawnError ? `, ${spawnError.message}` : ''}) before ${re}; output:\n${out.slice(-3000)}`));
        });
      });
    },
    async kill(signal = 'SIGKILL') {
      if (!alive()) return;
      proc.kill(signal);
      await exited;
    },
  };
}

export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
