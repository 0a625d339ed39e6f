import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { tsBootScript } from './ts-boot.ts';
import type { LayerInput } from './layer.ts';
import type { ShardSpec } from './shard.ts';

type Outbound = { type: 'done'; jobId: number; block: Uint16Array; sparseIncrements: number } | { type: 'error'; jobId: number; message: string };

interface Pending {
  resolve: (block: Uint16Array) => void;
  reject: (err: Error) => void;
}

/** Copies a typed array into shared memory so every thread reads the same bytes without a copy each. */
export function toShared<T extends Uint8Array | Uint16Array | Uint32Array | Float32Array>(a: T): T {
  const Ctor = a.constructor as new (b: SharedArrayBuffer) => T;
  const shared = new Ctor(new SharedArrayBuffer(a.byteLength));
  (shared as unknown as { set(x: T): void }).set(a);
  return shared;
}

function sharedInput(input: LayerInput): LayerInput {
  return input.kind === 'dense' ? { ...input, data: toShared(input.data) } : { ...input, ids: toShared(input.ids) };
}

/**
 * A fixed set of worker threads computing shards. Each shard is independent and deterministic,
 * so shards are handed out greedily in any order without changing the result.
 */
export class ShardThreadPool {
  readonly size: number;
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly queue: { jobId: number; spec: ShardSpec }[] = [];
  private readonly busy = new Map<Worker, number>();
  private nextJob = 1;
  private nextInput = 1;
  private inputId = 0;
  private failed: Error | undefined;
  /** The sparse kernel's score increments over every shard this pool finished (ShardWork). */
  sparseIncrements = 0;

  constructor(threads = availableParallelism(), prefer?: 'ort' | 'js') {
    this.size = Math.max(1, threads);
    const boot = tsBootScript(new URL('./shard-thread.ts', import.meta.url).href);
    for (let i = 0; i < this.size; i++) {
      const w = new Worker(boot, { eval: true, workerData: { prefer } });
      w.on('message', (m: Outbound) => this.onMessage(w, m));
      w.on('error', (err) => this.onCrash(w, err));
      w.on('exit', (code) => {
        if (code !== 0) this.onCrash(w, new Error(`shard thread exited with code ${code}`));
      });
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  /** Makes `input` the layer input of every following shard. */
  setInput(input: LayerInput): void {
    this.inputId = this.nextInput++;
    const shared = sharedInput(input);
    for (const w of this.workers) w.postMessage({ type: 'input', inputId: this.inputId, input: shared });
  }

  run(spec: ShardSpec): Promise<Uint16Array> {
    if (this.failed) return Promise.reject(this.failed);
    const jobId = this.nextJob++;
    const p = new Promise<Uint16Array>((resolve, reject) => this.pending.set(jobId, { resolve, reject }));
    this.queue.push({ jobId, spec });
    this.pump();
    return p;
  }

  private pump(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const w = this.idle.pop()!;
      const job = this.queue.shift()!;
      this.busy.set(w, job.jobId);
      w.postMessage({ type: 'shard', jobId: job.jobId, inputId: this.inputId, spec: job.spec });
    }
  }

  private onMessage(w: Worker, m: Outbound): void {
    const p = this.pending.get(m.jobId);
    this.pending.delete(m.jobId);
    this.busy.delete(w);
    this.idle.push(w);
    if (p) {
      if (m.type === 'done') {
        this.sparseIncrements += m.sparseIncrements;
        p.resolve(m.block);
      } else p.reject(new Error(m.message));
    }
    this.pump();
  }

  private onCrash(_w: Worker, err: Error): void {
    // A dead thread leaves the pool unusable: fail everything still waiting.
    this.failed ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  async close(): Promise<void> {
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            w.once('exit', () => resolve());
            w.postMessage({ type: 'close' });
            // A thread stuck in native code still goes away.
            setTimeout(() => void w.terminate(), 5_000).unref();
          }),
      ),
    );
  }
}
