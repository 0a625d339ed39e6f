import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { loadTf } from './backend.ts';

/** Whether an optional native tfjs package is installed here (a GPU worker image has one; CI has none). */
function installed(spec: string): boolean {
  try {
    createRequire(import.meta.url).resolve(spec);
    return true;
  } catch {
    return false;
  }
}

describe('loadTf', () => {
  it('picks the first installed backend of tensorflow-gpu, tensorflow, wasm, and honours prefer', async () => {
    const gpu = installed('@tensorflow/tfjs-node-gpu');
    const node = installed('@tensorflow/tfjs-node');
    const got = await loadTf();
    expect(got.backend).toBe(gpu ? 'tensorflow-gpu' : node ? 'tensorflow' : 'wasm');
    expect(got.tf.getBackend()).toBe(got.backend === 'wasm' ? 'wasm' : 'tensorflow');
    const cpu = await loadTf('cpu');
    expect(cpu.backend).toBe('cpu');
    expect(cpu.tf.getBackend()).toBe('cpu');
    // An unavailable preference falls through to the next in the order, never to cpu.
    const tfNode = await loadTf('tensorflow');
    expect(tfNode.backend).toBe(node ? 'tensorflow' : 'wasm');
    expect(tfNode.tf.getBackend()).toBe(node ? 'tensorflow' : 'wasm');
  });
});
