export type { DenseBackend, TopKResult } from './dense-backend.ts';
export { TOP_K } from './dense-backend.ts';
export { createDenseBackend, type CreateDenseBackendOptions } from './create-dense-backend.ts';
export { JsReferenceDenseBackend } from './js-reference-backend.ts';
export { OrtDenseBackend, type OrtBackendOptions } from './ort-backend.ts';
export { BlasDenseBackend, loadBlasAddon, blasAddonPath, DEFAULT_BLAS_ADDON_PATH, type BlasAddon, type BlasBackendOptions } from './blas-backend.ts';
export { TfjsGpuDenseBackend, TFJS_GPU_PACKAGE } from './tfjs-gpu-backend.ts';
export {
  nearestCentresDense,
  nearestCentresDensePrepared,
  prepareDenseCentres,
  gatherDenseCentres,
  createDenseStats,
  defaultBlockRows,
  type DenseCentres,
  type DenseKernel,
  type DenseStats,
  type NearestCentresDenseOptions,
} from './nearest-centres-dense.ts';
export { nearestCentresSparse, assignSparse, type SparseStats } from './nearest-centres-sparse.ts';
export { buildSparseCentreIndex, type SparseCentreIndex } from './sparse-centre-index.ts';
export { assignSparseGroup, assignSparseGroupWith, buildSparseGroupIndex, buildSparseGroupIndexWith, sparseGroupSize, type SparseGroupIndex } from './nearest-centres-sparse-group.ts';
