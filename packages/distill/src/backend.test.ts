import { describe, expect, it } from 'vitest';
import { loadTf } from './backend.ts';

describe('loadTf', () => {
  it('falls through the optional native backends to wasm here, and honours prefer', async () => {
    const got = await loadTf();
    // tfjs-node(-gpu) are not installed on these machines; a GPU worker image would report them.
    expect(['tensorflow-gpu', 'tensorflow', 'wasm']).toContain(got.backend);
    expect(got.tf.getBackend()).toBe(got.backend === 'wasm' ? 'wasm' : 'tensorflow');
    const cpu = await loadTf('cpu');
    expect(cpu.backend).toBe('cpu');
    expect(cpu.tf.getBackend()).toBe('cpu');
    const tfNode = await loadTf('tensorflow');
    expect(['tensorflow', 'wasm']).toContain(tfNode.backend);
  });
});
