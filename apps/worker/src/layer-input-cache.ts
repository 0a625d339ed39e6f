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

/** `input` when it has the shape `ref` names, else the BadInputError that loading it for `ref` would give. */
function checkShape(input: LayerInput, ref: TLayerInputRef): LayerInput {
  const what = `layer input ${ref.sha256}`;
  if (ref.kind === 'dense') {
    if (input.kind !== 'dense' || input.n !== ref.rows || input.d !== ref.cols) {
      throw new BadInputError(`${what}: ${input.kind === 'dense' ? `${input.n}×${input.d}` : 'a layer code'}, expected ${ref.rows}×${ref.cols}`);
    }
    return input;
  }
  if (input.kind !== 'code' || input.n !== ref.rows || input.V !== ref.V || input.k !== ref.k) {
    const got = input.kind === 'code' ? `shape ${input.n}×${input.V} (k ${input.k})` : 'a dense matrix';
    throw new BadInputError(`${what}: ${got}, expected ${ref.rows}×${ref.V} (k ${ref.k})`);
  }
  return input;
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
    // A hit was parsed against the first ref that asked for these bytes; a later ref that names
    // another shape is refused as a load would refuse it, not handed the first ref's input.
    if (hit) return hit.then((input) => checkShape(input, ref));
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
