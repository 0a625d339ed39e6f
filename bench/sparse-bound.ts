/**
 * The sparse layers' bound (issue 10: "the sparse layers near the bound of their real integer
 * work"). A sparse layer's real work is its score increments, the matches themselves, which the
 * trainer counts (TrainResult.layerIncrements). Its bound is that count at the rate the trainer's
 * own kernel performs increments when nothing else costs: measured here, in the same run, at the
 * layer's shape (Vp, k, and the kernel's group size G, so the scores take the same cache), on one
 * thread per core at once (as training runs), with codes whose increments outnumber everything else
 * ~100:1 (sparse-rate-thread.ts). What a real layer spends beyond it is the per-(point, previous
 * clustering) lookups, the argmax scans, the draws and the index builds.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { sparseGroupSize } from '@cmbn/kernels';
import { tsBootScript } from '@cmbn/mbn';
import { timedRounds } from './worker-rounds.ts';

export interface IncrementRate {
  k: number;
  G: number;
  /** score increments per second over every core together (the median of 5 timed rounds) */
  perSecond: number;
}

/**
 * The kernel's increment rate at a sparse layer of k centres over Vp previous clusterings, shards
 * of `width` clusterings (the trainer's group size follows from k and the width), a = share kept.
 */
export async function incrementRate(Vp: number, k: number, width: number, a: number, threads = availableParallelism()): Promise<IncrementRate> {
  const G = sparseGroupSize(k, width);
  // Points per call: about 2e8 increments (a few tenths of a second) whatever the shape.
  const perPoint = G * a * Vp * (k / 2);
  const n = Math.max(16, Math.round(2e8 / perPoint));
  const boot = tsBootScript(new URL('./sparse-rate-thread.ts', import.meta.url).href);
  const workers = Array.from({ length: threads }, (_, i) => new Worker(boot, { eval: true, workerData: { Vp, k, G, n, a, seed: 1 + i } }));
  try {
    const rates = (await timedRounds(workers, 5)).map((r) => (r.replies as number[]).reduce((sum, c) => sum + c, 0) / r.seconds);
    rates.sort((x, y) => x - y);
    return { k, G, perSecond: rates[2]! };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
