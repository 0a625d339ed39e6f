export { DEFAULT_DATABASE_URL, closeDb, currentDatabaseUrl, getDb, resolveDatabaseUrl, withTransaction } from './client.ts';
export type { Db, Tx } from './client.ts';
export { RegistryError } from './errors.ts';
export { runIdempotencyKey, runOfIdempotencyKey } from './idempotency.ts';
export type { RegistryErrorCode } from './errors.ts';
export { MIGRATIONS_DIR, migrateDatabase } from './migrate.ts';
export type { MigrateResult } from './migrate.ts';
export { createTestDatabase, testAdminUrl } from './test-db.ts';
export type { TestDatabase } from './test-db.ts';
export { DEFAULT_EMBEDDED_DATA_DIR, startEmbeddedRegistry } from './embedded.ts';
export type { EmbeddedRegistry, StartEmbeddedOptions } from './embedded.ts';
export type { JsonObject } from './json.ts';
export { getDataset, listDatasets, registerDataset } from './datasets.ts';
export type { DatasetRecord, RegisterDatasetInput } from './datasets.ts';
export {
  TERMINAL_RUN_STATUSES,
  UNFINISHED_RUN_STATUSES,
  createLayer,
  createRun,
  getLayer,
  cancelRun,
  getRun,
  getRunProgress,
  listRuns,
  listShards,
  listUnfinishedRuns,
  markShardDone,
  markShardFailed,
  markShardQueued,
  markShardRunning,
  lockRunStatus,
  setLayerStatus,
  setRunStatus,
} from './runs.ts';
export type {
  CreateLayerInput,
  CreateRunInput,
  LayerProgress,
  LayerStatus,
  Run,
  RunLayer,
  RunPatch,
  RunProgress,
  RunStatus,
  Shard,
  ShardDoneResult,
  ShardStatus,
} from './runs.ts';
export {
  createModelVersion,
  findVersionByIdempotencyKey,
  getModel,
  getVersion,
  listModels,
  listPendingVersions,
  markVersionFailed,
  markVersionReady,
  MODEL_DETAIL_MAX_VERSIONS,
  MODEL_DETAIL_VERSIONS,
  parseModelRef,
  resolveModelRef,
} from './models.ts';
export { aliasHistory, deleteAlias, rollbackAlias, setAlias } from './aliases.ts';
export type { AliasAction, AliasActor, AliasEvent, AliasMove } from './aliases.ts';
export { MAX_PAGE_SIZE, searchVersions } from './version-search.ts';
export type { VersionSearch, VersionSearchItem, VersionSearchPage } from './version-search.ts';
export { DEFAULT_GRACE_MS, assertGcGraceAllowed, deleteVersion, deleteVersionAndArtifacts, drainArtifactDeletions, gcArtifacts } from './artifact-gc.ts';
export type { DeleteVersionResult, DrainResult, GcHooks, GcOptions, GcResult, GcStep, GcStore } from './artifact-gc.ts';
export type {
  CreateModelVersionInput,
  ModelDetail,
  ModelRef,
  ModelVersionRecord,
  RegisteredModelRecord,
  VersionStatus,
} from './models.ts';
export { RegistryConfigError, checkRegistryOnce, databaseLocation } from './registry-probe.ts';
