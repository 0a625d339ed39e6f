export { ZMbnParams, OUTPUT_STEPS, MAX_K, MIN_V_PER_LAYER, smallVWarning, ParamsError, parseParams, resolveKs, keptCount } from './params.ts';
export type { TMbnParams, TMbnParamsInput, TOutputStep } from './params.ts';
export { streamFor, sampleDistinct, sortedU32 } from './rng.ts';
export type { Rng } from './rng.ts';
export { drawClustering, featureCount, gatherDense, gatherCodeRows } from './layer.ts';
export type { CodeInput, DenseInput, LayerInput, ClusteringDraw } from './layer.ts';
export { computeShard, placeShard, planShards } from './shard.ts';
export type { ShardSpec, ShardWork } from './shard.ts';
export { fitPcaOnCodes, projectCodes } from './pca.ts';
export { jacobiEigen } from './pca-linalg.ts';
export type { PcaModel } from './pca.ts';
export { fitOutputStep, fitToolboxPca, toolboxComponents } from './pca-toolbox.ts';
export { kmeans, assignNearest } from './kmeans.ts';
export {
  DEFAULT_APPLICATION,
  registerApplication,
  applicationKinds,
  isApplicationKind,
  getApplication,
  applicationKindOf,
  fitApplication,
  assignApplication,
  studentHeadOf,
  assignWithStudentHead,
  studentHeadMargins,
} from './application.ts';
export type { Application, ApplicationTag, FittedApplication, SectionSource, StudentHead } from './application.ts';
export { kmeansApplication } from './application-kmeans.ts';
export type { KMeansState } from './application-kmeans.ts';
export { knnProbe, kmeansRestartStudy } from './probes.ts';
export type { RestartOutcome } from './probes.ts';
export type { KMeansResult } from './kmeans.ts';
export {
  MODEL_FILE,
  MODEL_FORMAT_VERSION,
  buildModelLayer,
  serializeModel,
  deserializeModel,
  saveModel,
  loadModel,
  sha256Hex,
  keptFeatures,
} from './model.ts';
export type { MbnModel, ModelLayer } from './model.ts';
export { ContainerError } from './container.ts';
export { predict, applyHead, PredictError } from './predict.ts';
export type { Prediction, PredictInput } from './predict.ts';
export { createMbnPredictor, DEFAULT_PREDICT_CACHE_BYTES } from './predict-pool.ts';
export type { MbnPredictor, MbnPredictorOptions } from './predict-pool.ts';
export { trainMbn, trainWith, finishTraining, assembleLayer, layerShardSpecs, denseInput, defaultShardSize } from './train.ts';
export type { FinishResult, TrainMatrix, TrainOptions, TrainProgress, TrainResult, LayerRunner } from './train.ts';
export { finishTrainingInThread } from './finish-in-thread.ts';
export { ShardThreadPool } from './thread-pool.ts';
export { tsBootScript } from './ts-boot.ts';
export { autoShardCount, balancedShards, clusteringSeconds, layerShape, planLayerShards, TARGET_SHARD_SECONDS, MIN_SHARDS, MAX_SHARDS, SHARD_COUNT_MULTIPLE } from './shard-plan.ts';
export type { LayerShape } from './shard-plan.ts';
