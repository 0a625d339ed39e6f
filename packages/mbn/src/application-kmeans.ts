/**
 * The k-means application (the paper's): k-means++ with `kmeansRestarts` restarts on the embedding,
 * `clusters` centroids, labels by the nearest centroid. Its one section, `kmeans.centroids`, and its
 * lack of header fields are exactly what format 1 and 2 files hold, so k-means models keep their bytes.
 */
import { ContainerError } from './container.ts';
import type { Application } from './application.ts';
import { assignNearest, kmeans } from './kmeans.ts';

export interface KMeansState {
  /** Number of centroids. */
  k: number;
  /** k × dim, row-major. */
  centroids: Float64Array;
}

export const kmeansApplication: Application<KMeansState> = {
  kind: 'kmeans',
  fit(embedding, n, dim, params, seed) {
    const km = kmeans(embedding, n, dim, params.clusters, { seed, restarts: params.kmeansRestarts });
    return { k: params.clusters, centroids: km.centroids };
  },
  assign(state, embedding, n, dim) {
    return assignNearest(embedding, n, dim, state.centroids, state.k);
  },
  sections(state) {
    return [['kmeans.centroids', state.centroids]];
  },
  read(_meta, file, dim, what) {
    const centroids = file.section<Float64Array>('kmeans.centroids', 'f64');
    // k is not stored: the file holds k × dim values (the header's `clusters` is the same k, but
    // the array is what assignment reads, so its length decides).
    if (dim < 1 || centroids.length === 0 || centroids.length % dim !== 0) {
      throw new ContainerError(`${what}: kmeans.centroids has ${centroids.length} values, not a positive multiple of the embedding dimension ${dim}`);
    }
    return { k: centroids.length / dim, centroids };
  },
  studentHead(state) {
    return { kind: 'nearest-centroid', k: state.k, centroids: state.centroids };
  },
};
