import { describe, expect, it } from 'vitest';
import { createDenseBackend } from './create-dense-backend.ts';

describe('createDenseBackend', () => {
  it('falls back from the GPU to the CPU backend, with a warning, when tfjs-node-gpu is not installed', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    const backend = await createDenseBackend({ prefer: 'gpu', threads: 1 });
    await new Promise((r) => setImmediate(r));
    process.off('warning', onWarning);
    try {
      expect(backend.name).toBe('onnxruntime-cpu');
      expect(backend.unitRoundoff).toBe(2 ** -24);
      expect(warnings.some((m) => /GPU backend unavailable/.test(m))).toBe(true);
    } finally {
      await backend.dispose();
    }
  });
});
