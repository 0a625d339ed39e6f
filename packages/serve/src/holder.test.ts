import { describe, expect, it } from 'vitest';
import { ModelHolder } from './holder.ts';
import type { LoadedModel } from './served-model.ts';

function fake(name: string, disposed: string[]): LoadedModel {
  return {
    info: { name, source: name, artifactSha256: name, loadedAt: '', signature: { inputDims: 1, inputDType: 'uint8', normalisation: { kind: 'scale', scale: 1 }, output: { kind: 'labels', size: 2 } }, precision: 'int8' },
    predict: async () => ({ predictions: [] }),
    dispose: async () => void disposed.push(name),
  };
}

describe('ModelHolder', () => {
  it('a swap serves the new model at once and disposes the old one only after its last lease', async () => {
    const disposed: string[] = [];
    const h = new ModelHolder();
    expect(h.acquire()).toBeUndefined();
    h.swap(fake('a', disposed));
    const l1 = h.acquire()!;
    const l2 = h.acquire()!;
    expect(h.swap(fake('b', disposed))?.info.name).toBe('a');
    expect(h.current?.info.name).toBe('b');
    expect(l1.model.info.name).toBe('a'); // leases keep the model they started with
    l1.release();
    l1.release(); // idempotent: a double release must not free a lease it does not hold
    await Promise.resolve();
    expect(disposed).toEqual([]);
    l2.release();
    await new Promise((r) => setTimeout(r, 0));
    expect(disposed).toEqual(['a']);
    // A model retired with no lease goes at once; close() waits for it.
    h.swap(fake('c', disposed));
    await h.close();
    expect(disposed).toEqual(['a', 'b', 'c']);
  });
});
