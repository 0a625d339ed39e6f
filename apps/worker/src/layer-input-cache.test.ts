import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileArtifactStore } from '@cmbn/artifacts';
import { encodeNpy } from '@cmbn/data';
import { encodeCodeNpy } from '@cmbn/jobs';
import { BadInputError, LayerInputCache } from './layer-input-cache.ts';

let dir: string;
let store: FileArtifactStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cmbn-cache-'));
  store = new FileArtifactStore(join(dir, 'store'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('LayerInputCache', () => {
  it('reads each layer input once, however many shards ask at the same time', async () => {
    const x = { rows: 3, cols: 2, dtype: 'uint8' as const, data: Uint8Array.from([1, 2, 3, 4, 5, 6]) };
    const { sha256 } = await store.put(encodeNpy(x));
    const cache = new LayerInputCache(store, join(dir, 'cache'));
    const ref = { kind: 'dense' as const, sha256, rows: 3, cols: 2 };
    const inputs = await Promise.all([cache.get(ref), cache.get(ref), cache.get(ref)]);
    expect(cache.downloads).toBe(1);
    expect(inputs[0]).toBe(inputs[2]);
    expect(inputs[0]).toMatchObject({ kind: 'dense', n: 3, d: 2, dtype: 'uint8' });
    // Shared memory: compute threads read it without a copy each.
    expect((inputs[0] as { data: Uint8Array }).data.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it('decodes a layer code and checks its shape', async () => {
    const ids = Uint16Array.from([0, 1, 2, 3, 4, 5]);
    const { sha256 } = await store.put(encodeCodeNpy(ids, 2, 3));
    const cache = new LayerInputCache(store, join(dir, 'cache'));
    const code = await cache.get({ kind: 'code', sha256, rows: 2, V: 3, k: 9 });
    expect(code).toMatchObject({ kind: 'code', n: 2, V: 3, k: 9 });
    // The same bytes asked for again with the shape they have: the cached input, no second read.
    await expect(cache.get({ kind: 'code', sha256, rows: 2, V: 3, k: 9 })).resolves.toBe(code);
    expect(cache.downloads).toBe(1);
    // A ref naming another shape or kind gets, from the cache, what a fresh cache gives it (a hit
    // once answered any shape with the first ref's input): for the code's transposed shape the
    // shape error; read as a dense matrix, whatever a fresh load makes of the bytes.
    const fresh = () => new LayerInputCache(store, join(dir, 'cache'));
    const outcome = (p: Promise<unknown>) => p.then((v) => ({ ok: v }), (e: unknown) => ({ err: `${(e as Error).name}: ${(e as Error).message}` }));
    const transposed = { kind: 'code' as const, sha256, rows: 3, V: 2, k: 9 };
    expect(await outcome(cache.get(transposed))).toEqual({ err: expect.stringMatching(/^BadInputError: .*shape 2×3, expected 3×2/) });
    for (const ref of [transposed, { kind: 'dense' as const, sha256, rows: 2, cols: 3 }]) {
      expect(await outcome(cache.get(ref))).toEqual(await outcome(fresh().get(ref)));
    }
    // k is the ref's (the bytes do not carry it), on a hit as on a load.
    await expect(cache.get({ kind: 'code', sha256, rows: 2, V: 3, k: 8 })).resolves.toMatchObject({ kind: 'code', n: 2, V: 3, k: 8 });
    await expect(fresh().get({ kind: 'code', sha256, rows: 2, V: 3, k: 8 })).resolves.toMatchObject({ k: 8 });
    // None of that evicted the entry or replaced it.
    await expect(cache.get({ kind: 'code', sha256, rows: 2, V: 3, k: 9 })).resolves.toBe(code);
    const other = new LayerInputCache(store, join(dir, 'cache'));
    await expect(other.get({ kind: 'code', sha256, rows: 3, V: 2, k: 9 })).rejects.toThrow(/shape 2×3, expected 3×2/);
  });

  it('turns a corrupt or missing artifact into a BadInputError (no retry can fix it)', async () => {
    const bytes = encodeNpy({ rows: 1, cols: 2, dtype: 'uint8', data: Uint8Array.from([1, 2]) });
    const { sha256 } = await store.put(bytes);
    const corrupt = Uint8Array.from(bytes);
    corrupt[corrupt.length - 1] = 9;
    await writeFile(store.localPath(sha256), corrupt);
    const cache = new LayerInputCache(store, join(dir, 'cache'));
    const err = await cache.get({ kind: 'dense', sha256, rows: 1, cols: 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadInputError);
    expect((err as Error).message).toMatch(/corrupt/);
    await expect(cache.get({ kind: 'dense', sha256: 'e'.repeat(64), rows: 1, cols: 2 })).rejects.toThrow(BadInputError);
  });
});
