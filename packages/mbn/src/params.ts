import { z } from 'zod';
import { applicationKinds, DEFAULT_APPLICATION, isApplicationKind } from './application.ts';

/** Largest centre count a layer may use: ids are stored as Uint16. */
export const MAX_K = 65_535;

export const OUTPUT_STEPS = ['centred-pca', 'uncentred-pca', 'toolbox'] as const;
export type TOutputStep = (typeof OUTPUT_STEPS)[number];

export const ZMbnParams = z
  .object({
    /** Clusterings per layer. */
    V: z.number().int().min(1).max(100_000).default(400),
    /** Fraction of the input features each clustering keeps. */
    a: z.number().gt(0).max(1).default(0.5),
    /** Shrink factor of k from one layer to the next. */
    delta: z.number().gt(0).lt(1).default(0.5),
    /** Bottom layer's k; default min(⌊N/2⌋, ⌊1e8/N⌋). */
    k1: z.number().int().min(1).max(MAX_K).optional(),
    /** Explicit k per layer; overrides k1/delta. */
    k: z.array(z.number().int().min(1).max(MAX_K)).min(1).optional(),
    /** Output dimension of PCA and number of k-means clusters. */
    clusters: z.number().int().min(1).max(1000).default(10),
    seed: z.number().int().min(0).max(2 ** 32 - 1).default(0),
    /** Similarity of the bottom (dense) layer. */
    kernel: z.enum(['euclidean', 'linear']).default('euclidean'),
    /** k-means restarts of the application. */
    kmeansRestarts: z.number().int().min(1).max(100).default(10),
    /**
     * How the top code becomes the c-dim embedding (see pca-toolbox.ts and docs/PAPER.md):
     * 'centred-pca' the exact top-c principal directions of the centred code; 'uncentred-pca'
     * the same of the uncentred second moment; 'toolbox' the author's MATLAB output step
     * (uncentred EM-PCA, 20 iterations, max(min(3c,100),c) components, the first c kept; for
     * N ≤ 3000 linear kernel PCA on ≤ 2000 random points).
     * The default is 'toolbox' since 2026-12-04, chosen by fidelity to the toolbox as issue 10 asks;
     * the labels only checked it: on MNIST 10k (V=100) and 70k (defaults), seeds 1–3 each, and on
     * scikit-learn's digits, it gave the ACC and NMI of 'centred-pca' to the fourth decimal
     * (docs/PAPER.md, "Fidelity: the output step"). Models trained before keep their step in their
     * header; a model change: every default modelHash changed with it.
     */
    outputStep: z.enum(OUTPUT_STEPS).default('toolbox'),
    /**
     * The application fitted on the embedding (application.ts), any registered kind; absent means
     * k-means. No default on purpose: params are written into the model header, so a defaulted
     * field would change every k-means model's bytes and modelHash. For the same reason an
     * explicit 'kmeans' is dropped below, so { application: 'kmeans' } and {} are one run.
     * `clusters` stays the number of clusters any application is asked for; `kmeansRestarts`
     * is k-means's own.
     */
    application: z
      .string()
      .refine(isApplicationKind, { error: (iss) => `unknown application '${String(iss.input)}' (known: ${applicationKinds().join(', ')})` })
      .optional(),
  })
  .strict()
  .transform((p) => {
    if (p.application !== DEFAULT_APPLICATION) return p;
    const { application: _default, ...rest } = p;
    return rest as typeof p;
  });

export type TMbnParams = z.infer<typeof ZMbnParams>;
export type TMbnParamsInput = z.input<typeof ZMbnParams>;

export class ParamsError extends Error {
  readonly code = 'BAD_PARAMS';
}

/**
 * Zhang's schedule: k1 = min(⌊N/2⌋, ⌊1e8/N⌋), then k(l+1) = ⌊delta·k(l)⌋ while that stays ≥ 1.5·c.
 * Every k is checked against N: a clustering draws k distinct data points as centres.
 */
export function resolveKs(n: number, params: TMbnParams): number[] {
  if (!Number.isInteger(n) || n < 1) throw new ParamsError(`need at least one data point, got ${n}`);
  let ks: number[];
  if (params.k) {
    ks = [...params.k];
  } else {
    const k1 = params.k1 ?? Math.min(Math.floor(n / 2), Math.floor(1e8 / n));
    if (k1 < 1) throw new ParamsError(`k1 would be ${k1} for ${n} points; pass --k1 or --k explicitly`);
    ks = [k1];
    for (;;) {
      const next = Math.floor(params.delta * ks[ks.length - 1]!);
      if (next < 1.5 * params.clusters || next < 1) break;
      ks.push(next);
    }
  }
  ks.forEach((k, i) => {
    if (k > n) throw new ParamsError(`k of layer ${i + 1} is ${k} but there are only ${n} points (k must be ≤ N)`);
    if (k > MAX_K) throw new ParamsError(`k of layer ${i + 1} is ${k}; at most ${MAX_K} is supported`);
  });
  if (params.clusters > n) throw new ParamsError(`--clusters ${params.clusters} exceeds the ${n} points`);
  return ks;
}

export function parseParams(input: unknown): TMbnParams {
  const r = ZMbnParams.safeParse(input);
  if (!r.success) {
    const msg = r.error.issues.map((i) => `${i.path.join('.') || 'params'}: ${i.message}`).join('; ');
    throw new ParamsError(msg);
  }
  return r.data;
}

/** Number of kept features for a clustering over nFeatures inputs. */
export function keptCount(nFeatures: number, a: number): number {
  return Math.max(1, Math.min(nFeatures, Math.round(a * nFeatures)));
}

/**
 * Fewest clusterings per layer below which MBN's upper layers collapse: with V clusterings a
 * layer's code has only V active features, and each upper clustering keeps about a·V of them, so
 * a small V leaves every point with a handful of matches per centre, scores tie, and ties fall to
 * the lowest centre index, a little more at every layer. 5 comes from the measured sweep
 * `npm run bench:quality -- --limit 3000 --seeds 1,2 --sweep-v 10,20,25,30,40` (7 layers): mean ACC
 * 0.13, 0.19, 0.40, 0.54, 0.75; 5.7 clusterings per layer is on the plateau (V=100: 0.74, issue 10),
 * 4.3 is not (docs/PAPER.md).
 */
export const MIN_V_PER_LAYER = 5;

/** The small-V warning for V clusterings over `layers` layers, or null when V is large enough. */
export function smallVWarning(V: number, layers: number): string | null {
  if (V >= MIN_V_PER_LAYER * layers) return null;
  return (
    `V=${V} is small for ${layers} layers (${(V / layers).toFixed(1)} clusterings per layer, fewer than ${MIN_V_PER_LAYER}): ` +
    `the upper layers' scores then mostly tie and the clustering degrades towards chance (measured on 3,000 MNIST digits, docs/PAPER.md). ` +
    `Use V ≥ ${MIN_V_PER_LAYER * layers}, or fewer layers (an explicit --k list or a smaller --delta).`
  );
}
