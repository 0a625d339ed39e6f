/**
 * Where served versions come from. A source resolves its reference to a version (name, number and
 * the registry's sha256) and fetches that version's verified student directory, through the one
 * registry interface: Postgres + the artifact store (createPrismaRegistry({ store })) or a
 * coordinator's /v1 API (httpRegistry), so `cmbn serve` and `cmbn serve --remote` share this code.
 */
import { pullStudent, type RegistryReader } from '@cmbn/pipeline';
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

/** A source on a registry: `ref` (NAME, NAME@ALIAS or NAME:VERSION) is resolved on every resolve(). */
export function registrySource(ref: string, registry: RegistryReader, description = ref): ModelSource {
  return {
    description,
    async resolve() {
      const v = await registry.resolveModelRef(ref);
      if (v.artifactSha256 === null) throw new ServeError('ARTIFACT_MISMATCH', `${v.modelName}:${v.version} has no artifact recorded`);
      return { name: v.modelName, version: v.version, artifactSha256: v.artifactSha256 };
    },
    async fetch(v, dir) {
      // By number, not by ref: the alias may have moved again since resolve().
      const p = await pullStudent({ ref: `${v.name}:${v.version}`, outDir: dir, registry, force: true });
      if (p.artifactSha256 !== v.artifactSha256) {
        throw new ServeError('ARTIFACT_MISMATCH', `${v.name}:${v.version} now records sha256 ${p.artifactSha256}, not ${v.artifactSha256}`);
      }
    },
  };
}
