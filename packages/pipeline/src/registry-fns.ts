/**
 * The registry operations the pipeline uses, injectable so that a test (or a remote client later)
 * can stand in for the Prisma-backed functions of @cmbn/registry.
 */
import { createModelVersion, markVersionFailed, markVersionReady, resolveModelRef } from '@cmbn/registry';

export interface RegistryFns {
  createModelVersion: typeof createModelVersion;
  markVersionReady: typeof markVersionReady;
  markVersionFailed: typeof markVersionFailed;
  resolveModelRef: typeof resolveModelRef;
}

export const defaultRegistryFns: RegistryFns = { createModelVersion, markVersionReady, markVersionFailed, resolveModelRef };
