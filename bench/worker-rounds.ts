/** Timing work spread over worker threads that start together (the benches' same-run baselines). */
import type { Worker } from 'node:worker_threads';

/** The next message of a worker thread, or its error. */
export function workerReply(w: Worker): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => {
      w.off('message', onMessage);
      reject(err);
    };
    const onMessage = (m: unknown) => {
      w.off('error', onError);
      resolve(m);
    };
    w.once('message', onMessage);
    w.once('error', onError);
  });
}

/**
 * Waits for every worker's first message (ready), then `rounds` times sends each one 'go' and
 * times from the send to the last reply: each round's wall seconds and the workers' replies.
 */
export async function timedRounds(workers: readonly Worker[], rounds: number): Promise<{ seconds: number; replies: unknown[] }[]> {
  await Promise.all(workers.map(workerReply));
  const out: { seconds: number; replies: unknown[] }[] = [];
  for (let round = 0; round < rounds; round++) {
    const t0 = performance.now();
    const done = Promise.all(workers.map(workerReply));
    for (const w of workers) w.postMessage('go');
    const replies = await done;
    out.push({ seconds: (performance.now() - t0) / 1000, replies });
  }
  return out;
}
