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
