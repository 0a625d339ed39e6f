/**
 * Test support for the start-up tests: `cmbn <command>` (the CLI's bin, the command that
 * docker-compose.yml and docs/DEPLOY.md run) as a real child process, its output collected.
 * Every wait has a deadline that kills the child; nothing sleeps a fixed time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CMBN_BIN = fileURLToPath(new URL('../../cli/bin/cmbn.js', import.meta.url));

/** The S3 and store variables are cleared, so only what a test passes configures the child. */
const CLEARED = ['AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_PROFILE', 'CMBN_S3_FORCE_PATH_STYLE', 'CMBN_ARTIFACTS'];

export interface CmbnChild {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code; rejects (after SIGKILL) when the child runs past `deadlineMs`. */
  exit(deadlineMs: number): Promise<number | null>;
  /** Resolves with the first stdout/stderr line matching `re`; rejects when the child exits first or the deadline passes. */
  line(re: RegExp, deadlineMs: number): Promise<string>;
  kill(): void;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

export function spawnCmbn(args: string[], env: Record<string, string>): CmbnChild {
  const base = { ...process.env };
  for (const k of CLEARED) delete base[k];
  const proc = spawn(process.execPath, [CMBN_BIN, ...args], { cwd: REPO_ROOT, env: { ...base, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(proc);
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  proc.stdout!.on('data', (b: Buffer) => ((out += b.toString()), listeners.forEach((l) => l())));
  proc.stderr!.on('data', (b: Buffer) => ((err += b.toString()), listeners.forEach((l) => l())));
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => {
      live.delete(proc);
      listeners.forEach((l) => l());
      resolve(code);
    }),
  );
  const kill = () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  };
  const what = `cmbn ${args.join(' ')}`;
  return {
    proc,
    stdout: () => out,
    stderr: () => err,
    kill,
    exit(deadlineMs) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          kill();
          reject(new Error(`${what} did not exit within ${deadlineMs} ms; stderr:\n${err.slice(-2000)}`));
        }, deadlineMs);
        void exited.then((code) => (clearTimeout(t), resolve(code)));
      });
    },
    line(re, deadlineMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = `${out}\n${err}`.split('\n').find((l) => re.test(l));
          if (hit !== undefined) return done(() => resolve(hit));
          if (proc.exitCode !== null || proc.signalCode !== null) done(() => reject(new Error(`${what} exited (${proc.exitCode ?? proc.signalCode}) before ${re}:\n${(out + err).slice(-2000)}`)));
        };
        const t = setTimeout(() => done(() => reject(new Error(`${what}: no line matching ${re} within ${deadlineMs} ms:\n${(out + err).slice(-2000)}`))), deadlineMs);
        const done = (f: () => void) => {
          clearTimeout(t);
          listeners.delete(check);
          f();
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/**
 * The lines a start-up failure printed, without Node's process warnings (the AWS SDK's
 * NodeVersionSupportWarning on Node < 22 is a multi-line `(node:PID) Warning:` block that ends
 * with the `--trace-warnings` hint).
 */
export function linesWithoutNodeWarnings(stderr: string): string[] {
  const lines = stderr.split('\n');
  const kept: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (/^\(node:\d+\) \S*Warning/.test(lines[i]!)) {
      while (i < lines.length && !/--trace-warnings/.test(lines[i]!)) i++;
      continue;
    }
    if (lines[i]!.trim() !== '') kept.push(lines[i]!);
  }
  return kept;
}
