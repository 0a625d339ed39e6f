import { clusteringAccuracy, nmi } from '@cmbn/metrics';
import { kmeans } from './kmeans.ts';

/**
 * Probes that separate the quality of an embedding from the luck of the k-means run applied to
 * it (docs/PAPER.md): a kNN classifier on the embedding, and many single k-means starts with
 * their objective and accuracy.
 */

/**
 * kNN accuracy: rows [0, trainN) are the labelled reference, rows [trainN, n) are classified by
 * majority vote of their `neighbours` nearest reference rows (squared Euclidean; a tied vote goes
 * to the label whose nearest member is nearest). O((n − trainN)·trainN·dim).
 */
export function knnProbe(x: Float64Array, n: number, dim: number, labels: Int32Array, trainN: number, neighbours = 10): number {
  if (!(trainN > 0 && trainN < n)) throw new Error(`knnProbe: need 0 < trainN < n (got ${trainN}, ${n})`);
  const K = Math.min(neighbours, trainN);
  const bestD = new Float64Array(K);
  const bestI = new Int32Array(K);
  let maxLabel = 0;
  for (let i = 0; i < n; i++) maxLabel = Math.max(maxLabel, labels[i]!);
  const votes = new Int32Array(maxLabel + 1);
  const firstRank = new Int32Array(maxLabel + 1);
  let hits = 0;
  for (let q = trainN; q < n; q++) {
    bestD.fill(Infinity);
    const qo = q * dim;
    for (let r = 0; r < trainN; r++) {
      const ro = r * dim;
      let d = 0;
      for (let t = 0; t < dim; t++) {
        const e = x[qo + t]! - x[ro + t]!;
        d += e * e;
      }
      if (d >= bestD[K - 1]!) continue;
      // insertion into the sorted top-K (ties keep the earlier reference row first)
      let p = K - 1;
      while (p > 0 && bestD[p - 1]! > d) {
        bestD[p] = bestD[p - 1]!;
        bestI[p] = bestI[p - 1]!;
        p--;
      }
      bestD[p] = d;
      bestI[p] = r;
    }
    votes.fill(0);
    firstRank.fill(K);
    for (let p = 0; p < K; p++) {
      const l = labels[bestI[p]!]!;
      votes[l]!++;
      if (firstRank[l]! === K) firstRank[l] = p;
    }
    let win = 0;
    for (let l = 1; l <= maxLabel; l++) {
      if (votes[l]! > votes[win]! || (votes[l] === votes[win] && firstRank[l]! < firstRank[win]!)) win = l;
    }
    if (win === labels[q]) hits++;
  }
  return hits / (n - trainN);
}

export interface RestartOutcome {
  /** k-means objective (inertia) of this start */
  inertia: number;
  acc: number;
  nmi: number;
}

/**
 * `starts` independent single-start k-means runs (seeds seed, seed+1, …), each with its objective
 * and its ACC/NMI against `truth`, sorted by objective (best first). Whether lower objective
 * means higher ACC says whether more restarts would help or the embedding itself is the limit.
 */
export function kmeansRestartStudy(x: Float64Array, n: number, dim: number, c: number, truth: Int32Array, starts: number, seed: number): RestartOutcome[] {
  const out: RestartOutcome[] = [];
  for (let s = 0; s < starts; s++) {
    const r = kmeans(x, n, dim, c, { seed: seed + s, restarts: 1 });
    out.push({ inertia: r.inertia, acc: clusteringAccuracy(truth, r.labels), nmi: nmi(truth, r.labels) });
  }
  return out.sort((a, b) => a.inertia - b.inertia);
}
