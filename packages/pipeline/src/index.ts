export { PipelineError } from './errors.ts';
export type { PipelineErrorCode } from './errors.ts';
export { packDirectory, packEntries, unpackEntries } from './archive.ts';
export type { ArchiveEntry } from './archive.ts';
export { datasetSha256, directoryBytes } from './digests.ts';
export { checkArtifact, createPrismaRegistry, prismaRegistry, readStoredArtifact } from './registry-port.ts';
export type {
  AliasHistoryRecord,
  DeletedVersionRecord,
  GcRequest,
  PrismaRegistryOptions,
  RegistryArtifact,
  RegistryPort,
  RegistryReader,
  RegistryWriter,
} from './registry-port.ts';
export { httpRegistry, NotAvailableOverHttpError, RegistryHttpError, versionSearchQuery } from './registry-http.ts';
export type { HttpRegistry, HttpRegistryOptions } from './registry-http.ts';
export { distilAndPublish, studentIdempotencyKey, StudentCancelledError } from './distil-and-publish.ts';
export type { DistilAndPublishPorts, DistilAndPublishRequest, DistilAndPublishResult } from './distil-and-publish.ts';
export { ZCentroidHead, ZStudentEvaluation, ZStudentMeta, ZStudentRecipe, ZStudentSummary, parseWith } from './student-schemas.ts';
export type { TCentroidHead, TStudentEvaluation, TStudentMeta, TStudentRecipe, TStudentSummary } from './student-schemas.ts';
export { packStudentDirectory, publishStudent } from './publish.ts';
export type { PublishStudentInput, PublishedStudent, StudentLineage } from './publish.ts';
export { pullStudent } from './pull.ts';
export type { PullStudentInput, PulledStudent } from './pull.ts';
export { cmbnHome, openLocalRegistry } from './local-registry.ts';
export type { LocalRegistry, OpenLocalRegistryOptions } from './local-registry.ts';
export { centroidHead, createStudentLabeler, headOfStudentMeta, isCentroidHead } from './student-labeler.ts';
export type { CentroidHead, StudentLabeler } from './student-labeler.ts';
export { DEFAULT_SOFT_TEMPERATURE, DEFAULT_AUGMENT_PER_POINT, distillStudent } from './distill-student.ts';
export { augmentImages, augmentImagesAsync, isSquareImage, MILD_AUGMENT } from './augment.ts';
export type { AugmentOptions } from './augment.ts';
export type { DistillInput, DistillResult, StudentEvaluation } from './distill-student.ts';
export { softClusterTargets } from './soft-targets.ts';
export { studentMetrics, studentRecipe, studentSummary } from './student-summary.ts';
export type { StudentRecipe } from './student-summary.ts';
