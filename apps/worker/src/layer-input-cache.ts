import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ArtifactStore } from '@cmbn/artifacts';
import { parseMatrix } from '@cmbn/data';
import { BadInputError, classifyError, decodeCodeNpy, type TLayerInputRef } from '@cmbn/jobs';
import type { LayerInput } from '@cmbn/mbn';

/** Copies into shared memory so every compute thread reads the same bytes without a copy each. */
function toShared<T extends Uint8Array | Uint16Array | Float32Array>(a: T): T {
  const Ctor = a.constructor as new (b: SharedArrayBuffer) => T;
  const shared = new Ctor(new SharedArrayBuffer(a.byteLength));
  (shared as unknown as { set(x: T): void }).set(a);
  return shared;
}

/** Thrown for an input that no retry can fix (corrupt, missing, malformed, wrong shape): @cmbn/jobs' taxonomy. */
export { BadInputError };

/**
 * Whether a cached input answers `ref` as loading the bytes for `ref` would: the same kind and
 * shape. A code's k comes from the ref, not the bytes, so it is taken from the ref.
 */
function answerFromHit(input: LayerInput, ref: TLayerInputRef): LayerInput | undefined {
  if (ref.kind === 'dense') return input.kind === 'dense' && input.n === ref.rows && input.d === ref.cols ? input : undefined;
  if (input.kind !== 'code' || input.n !== ref.rows || input.V !== ref.V) return undefined;
  return input.k === ref.k ? input : { ...input, k: ref.k };
}

/**
 * Layer inputs by sha256: each is fetched and parsed once per worker process (concurrent jobs of
 * one layer share the in-flight load), kept in memory for the current and the previous layer, and
 * for stores without a local path also kept on local disk across restarts.
 */
export class LayerInputCache {
  private readonly mem = new Map<string, Promise<LayerInput>>();
  /** Number of artifact-store reads, for tests and logs. */
  downloads = 0;

  constructor(
    private readonly store: ArtifactStore,
    private readonly dir: string,
    private readonly keep = 2,
  ) {}

  get(ref: TLayerInputRef): Promise<LayerInput> {
    const hit = this.mem.get(ref.sha256);
    // A hit was parsed for the first ref that asked for these bytes. A later ref that names another
    // kind or shape gets what a worker without the cache would get, a load of its own (uncached):
    // the same error, or the same input, whichever worker runs the job.
    if (hit) return hit.then((input) => answerFromHit(input, ref) ?? this.load(ref));
    const p = this.load(ref);
    this.mem.set(ref.sha256, p);
    p.catch(() => this.mem.delete(ref.sha256));
    while (this.mem.size > this.keep) this.mem.delete(this.mem.keys().next().value!);
    return p;
  }

  private async load(ref: TLayerInputRef): Promise<LayerInput> {
    const bytes = await this.fetch(ref.sha256);
    const what = `layer input ${ref.sha256}`;
    if (ref.kind === 'dense') {
      let m;
      try {
        m = parseMatrix(bytes, what);
      } catch (err) {
        throw new BadInputError(`${what}: ${(err as Error).message}`);
      }
      if (m.rows !== ref.rows || m.cols !== ref.cols) {
        throw new BadInputError(`${what}: ${m.rows}×${m.cols}, expected ${ref.rows}×${ref.cols}`);
      }
      return { kind: 'dense', n: m.rows, d: m.cols, dtype: m.dtype, data: toShared(m.data) };
    }
    let c;
    try {
      c = decodeCodeNpy(bytes, what, { rows: ref.rows, cols: ref.V });
    } catch (err) {
      throw new BadInputError((err as Error).message);
    }
    return { kind: 'code', n: c.rows, V: c.cols, k: ref.k, ids: toShared(c.ids) };
  }

  private async fetch(sha256: string): Promise<Uint8Array> {
    if (this.store.localPath) return this.readStore(sha256);
    const path = join(this.dir, sha256);
    const cached = await readFile(path).catch(() => undefined);
    if (cached && createHash('sha256').update(cached).digest('hex') === sha256) return cached;
    const bytes = await this.readStore(sha256);
    await mkdir(this.dir, { recursive: true });
    const tmp = `${path}.${randomBytes(6).toString('hex')}.part`;
    await writeFile(tmp, bytes);
    await rename(tmp, path);
    return bytes;
  }

  private async readStore(sha256: string): Promise<Uint8Array> {
    this.downloads++;
    try {
      return await this.store.get(sha256);
    } catch (err) {
      if (classifyError(err) === 'bad-input') throw new BadInputError(`layer input: ${(err as Error).message}`, { cause: err });
      throw err;
    }
  }
}
