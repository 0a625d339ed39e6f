import { Worker } from 'node:worker_threads';
import { tsBootScript, type LayerInput, type ShardSpec } from '@cmbn/mbn';
import type { ThreadInbound, ThreadOutbound } from './compute-thread.ts';

interface Slot {
  thread: Worker;
  /** Layer inputs this thread holds (it keeps the last two). */
  has: string[];
  busy: boolean;
  backend: Promise<string>;
  task?: { taskId: number; resolve: (r: { block: Uint16Array; seconds: number }) => void; reject: (e: Error) => void };
}

export class ComputeAbortedError extends Error {
  readonly code = 'ABORTED';
}

/**
 * One compute thread per concurrent job. A task that times out or is aborted terminates its thread
 * (a GEMM cannot be interrupted) and a fresh thread takes the slot.
 */
export class ComputePool {
  private readonly slots: Slot[] = [];
  private nextTask = 1;
  private closed = false;
  private broken: Error | undefined;

  constructor(
    readonly size: number,
    private readonly opts: { threads: number; prefer?: 'gpu' | 'blas' | 'ort' | 'js' },
  ) {
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  /** The dense backend's name, as the first thread reports it. */
  backendName(): Promise<string> {
    return this.slots[0]!.backend;
  }

  private spawn(): Slot {
    const boot = tsBootScript(new URL('./compute-thread.ts', import.meta.url).href);
    const thread = new Worker(boot, { eval: true, execArgv: [], workerData: { threads: this.opts.threads, prefer: this.opts.prefer } });
    let ready!: (name: string) => void;
    let notReady!: (err: Error) => void;
    let isReady = false;
    const slot: Slot = {
      thread,
      has: [],
      busy: false,
      backend: new Promise((resolve, reject) => {
        ready = resolve;
        notReady = reject;
      }),
    };
    slot.backend.catch(() => {});
    thread.on('message', (m: ThreadOutbound) => {
      if (m.type === 'ready') {
        isReady = true;
        return ready(m.backend);
      }
      const t = slot.task;
      if (!t || t.taskId !== m.taskId) return;
      slot.task = undefined;
      slot.busy = false;
      if (m.type === 'done') t.resolve({ block: m.block, seconds: m.seconds });
      else t.reject(new Error(m.message));
    });
    const crash = (err: Error) => {
      const t = slot.task;
      slot.task = undefined;
      t?.reject(err);
      // A thread that cannot even start (bad install) would fail again: report it, do not respawn.
      if (!isReady) {
        this.broken ??= err;
        notReady(err);
        return;
      }
      if (!this.closed) this.replace(slot);
    };
    thread.on('error', crash);
    thread.on('exit', (code) => {
      if (code !== 0 && (slot.task || !isReady)) crash(new Error(`compute thread exited with code ${code}`));
    });
    return slot;
  }

  private replace(slot: Slot): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    void slot.thread.terminate();
    this.slots[i] = this.spawn();
  }

  /** Computes one shard on an idle thread (BullMQ's concurrency equals the pool size, so one is free). */
  run(sha256: string, input: LayerInput, spec: ShardSpec, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<{ block: Uint16Array; seconds: number }> {
    if (this.broken) return Promise.reject(this.broken);
    const slot = this.slots.find((s) => !s.busy);
    if (!slot) return Promise.reject(new Error('compute pool: no idle thread (concurrency exceeds the pool size)'));
    slot.busy = true;
    const taskId = this.nextTask++;
    return new Promise((resolve, reject) => {
      // eslint-disable-next-line prefer-const -- assigned below, after the callbacks that clear it
      let timer: NodeJS.Timeout | undefined;
      const finish = () => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
      };
      const kill = (err: Error) => {
        if (slot.task?.taskId !== taskId) return;
        slot.task = undefined;
        finish();
        reject(err);
        this.replace(slot);
      };
      const onAbort = () => kill(new ComputeAbortedError(`shard aborted: ${String(opts.signal?.reason ?? 'cancelled')}`));
      slot.task = {
        taskId,
        resolve: (r) => {
          finish();
          resolve(r);
        },
        reject: (e) => {
          finish();
          reject(e);
        },
      };
      timer = setTimeout(() => kill(new Error(`shard timed out after ${opts.timeoutMs} ms`)), opts.timeoutMs);
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      const send = !slot.has.includes(sha256);
      if (send) {
        slot.has.push(sha256);
        while (slot.has.length > 2) slot.has.shift();
      }
      const msg: ThreadInbound = { type: 'shard', taskId, sha256, spec, ...(send ? { input } : {}) };
      slot.thread.postMessage(msg);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      this.slots.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.thread.once('exit', () => resolve());
            s.thread.postMessage({ type: 'close' } satisfies ThreadInbound);
            setTimeout(() => void s.thread.terminate(), 5_000).unref();
          }),
      ),
    );
  }
}
