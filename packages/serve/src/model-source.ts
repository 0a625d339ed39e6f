/**
 * Where served versions come from. A source resolves its reference to a version (name, number and
 * the registry's sha256) and fetches that version's verified student directory. The local source
 * (below) uses @cmbn/registry + the artifact store; the CLI adds one for a coordinator's API.
 */
import { pullStudent } from '@cmbn/pipeline';
import { resolveModelRef } from '@cmbn/registry';
import type { ArtifactStore } from '@cmbn/artifacts';
import { ServeError } from './errors.ts';

export interface ResolvedVersion {
  name: string;
  version: number;
  artifactSha256: string;
}

export interface ModelSource {
  /** How the source is shown in logs: e.g. models:/digits@champion via DATABASE_URL. */
  readonly description: string;
  resolve(): Promise<ResolvedVersion>;
  /** Writes `v`'s student files into `dir` (empty or absent), verified against `v.artifactSha256`. */
  fetch(v: ResolvedVersion, dir: string): Promise<void>;
}

export const sameVersion = (a: ResolvedVersion, b: ResolvedVersion): boolean =>
  a.name === b.name && a.version === b.version && a.artifactSha256 === b.artifactSha256;

/** A source on the local registry (DATABASE_URL or the embedded Postgres) and its artifact store. */
export function registrySource(ref: string, store: ArtifactStore, description = ref): ModelSource {
  return {
    description,
    async resolve() {
      const v = await resolveModelRef(ref);
      if (v.artifactSha256 === null) throw new ServeError('ARTIFACT_MISMATCH', `${v.modelName}:${v.version} has no artifact recorded`);
      return { name: v.modelName, version: v.version, artifactSha256: v.artifactSha256 };
    },
    async fetch(v, dir) {
      // By number, not by ref: the alias may have moved again since resolve().
      const p = await pullStudent({ ref: `${v.name}:${v.version}`, outDir: dir, store, force: true });
      if (p.artifactSha256 !== v.artifactSha256) {
        throw new ServeError('ARTIFACT_MISMATCH', `${v.name}:${v.version} now records sha256 ${p.artifactSha256}, not ${v.artifactSha256}`);
      }
    },
  };
}
