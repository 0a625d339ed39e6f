export { defineJob } from './define.ts';
export type { JobDefinition, JobRunner, RetryPolicy } from './define.ts';
export { jobCatalog, jobOptions, parsePayload, parseResult, queueName, PayloadError } from './catalog.ts';
export type { HandlersFor, JobCatalog, JobContext, JobHandler, JobKind, JobPayload, JobResult, KindsOf } from './catalog.ts';
export { shardJob } from './shard.job.ts';
export { layerJob } from './layer.job.ts';
export { gcJob } from './gc.job.ts';
export { distillJob, studentRequestProblem, ZStudentRequest, ZTeacherRef } from './distill.job.ts';
export type { TStudentRequest, TTeacherRef } from './distill.job.ts';
export { ZLayerInputRef, ZSha256, ZShardSpec } from './refs.ts';
export type { TLayerInputRef, TShardSpec } from './refs.ts';
export { distillJobId, layerJobId, parseDistillJobId, parseLayerJobId, parseShardJobId, shardJobId } from './ids.ts';
export { CodeArtifactError, decodeCodeNpy, encodeCodeNpy } from './code-npy.ts';
export { CANCELLED_KEY_TTL_SECONDS, cancelChannel, cancelledKey } from './cancel.ts';
export { decodeTeacherEmbedding, decodeTeacherLabels, encodeTeacherEmbedding, encodeTeacherLabels } from './teacher-npy.ts';
export {
  BadInputError,
  CancelledError,
  UnrecoverableJobError,
  classifyError,
  consumesAttempt,
  errorLine,
  isRetryable,
  toJobError,
  withInfraRetry,
} from './failure.ts';
export type { FailureKind, InfraRetryOptions } from './failure.ts';
export { failedChildren } from './flow-children.ts';
export { HopelessJobError, toBullmqError } from './bullmq-boundary.ts';
export { MIN_REDIS_VERSION, RedisConfigError, checkRedis, parseRedisInfo, redisLocation, redisServerProblems, throttledRedisWarning, versionBelow, type CheckRedisOptions, type RedisServerInfo } from './redis-probe.ts';
