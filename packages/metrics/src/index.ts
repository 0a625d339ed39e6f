import { clusteringAccuracy } from './accuracy.ts';
import { ari } from './ari.ts';
import { nmi } from './nmi.ts';

export { hungarian } from './hungarian.ts';
export { clusteringAccuracy } from './accuracy.ts';
export { nmi } from './nmi.ts';
export { ari } from './ari.ts';
export { confusionMatrix } from './confusion.ts';
export type { ConfusionMatrix } from './confusion.ts';
export { contingency, denseLabels } from './contingency.ts';
export type { Contingency } from './contingency.ts';

export interface ClusteringMetrics {
  acc: number;
  nmi: number;
  ari: number;
}

/** ACC, NMI (arithmetic normalisation) and ARI of `pred` against `truth`. */
export function clusteringMetrics(truth: Int32Array, pred: Int32Array): ClusteringMetrics {
  return { acc: clusteringAccuracy(truth, pred), nmi: nmi(truth, pred), ari: ari(truth, pred) };
}

/** Fraction of points whose two labels are equal (0 for no points): a student's agreement with its teacher. */
export function labelAgreement(a: Int32Array, b: Int32Array): number {
  if (a.length !== b.length) throw new RangeError(`labelAgreement: ${a.length} labels against ${b.length}`);
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return a.length === 0 ? 0 : same / a.length;
}

export interface AgreementBin {
  /** the bin's largest score */
  upTo: number;
  points: number;
  agreement: number;
  /** the points in this bin whose labels differ */
  disagreements: number;
}

/**
 * labelAgreement within `bins` equal-count groups of the points ordered by `score` (ascending; ties
 * in index order), for example by how clearly the teacher placed each point: where the
 * disagreements sit. The first `n mod bins` groups hold one point more.
 */
export function agreementByScore(a: Int32Array, b: Int32Array, score: Float64Array, bins: number): AgreementBin[] {
  const n = a.length;
  if (b.length !== n || score.length !== n) throw new RangeError(`agreementByScore: ${n} labels against ${b.length}, ${score.length} scores`);
  if (!Number.isInteger(bins) || bins < 1 || bins > Math.max(1, n)) throw new RangeError(`agreementByScore: bins must be an integer in 1..${Math.max(1, n)}, got ${bins}`);
  for (let i = 0; i < n; i++) if (Number.isNaN(score[i]!)) throw new RangeError(`agreementByScore: score[${i}] is NaN`);
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => score[i]! - score[j]! || i - j);
  const out: AgreementBin[] = [];
  let at = 0;
  for (let g = 0; g < bins && at < n; g++) {
    const size = Math.floor(n / bins) + (g < n % bins ? 1 : 0);
    let same = 0;
    for (let t = at; t < at + size; t++) if (a[order[t]!] === b[order[t]!]) same++;
    out.push({ upTo: score[order[at + size - 1]!]!, points: size, agreement: same / size, disagreements: size - same });
    at += size;
  }
  return out;
}
