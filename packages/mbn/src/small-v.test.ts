import { afterEach, describe, expect, it, vi } from 'vitest';
import { MIN_V_PER_LAYER, parseParams, resolveKs, smallVWarning } from './params.ts';
import { trainMbn } from './train.ts';
import { gaussianBlobs } from './test-fixtures.ts';

describe('smallVWarning', () => {
  it('warns below MIN_V_PER_LAYER clusterings per layer, with the reason and a suggestion', () => {
    // 3,000 points with the defaults have 7 layers (issue 10: V=20 gave ACC 0.19, V=100 gave 0.74)
    const layers = resolveKs(3000, parseParams({})).length;
    expect(layers).toBe(7);
    const w = smallVWarning(20, layers);
    expect(w).toMatch(/V=20 is small for 7 layers/);
    expect(w).toMatch(/tie/);
    expect(w).toContain(`V ≥ ${MIN_V_PER_LAYER * 7}`);
    expect(smallVWarning(100, layers)).toBeNull();
  });

  it('the threshold is exactly MIN_V_PER_LAYER·layers', () => {
    for (const layers of [1, 4, 7, 9]) {
      expect(smallVWarning(MIN_V_PER_LAYER * layers, layers)).toBeNull();
      expect(smallVWarning(MIN_V_PER_LAYER * layers - 1, layers)).not.toBeNull();
    }
  });
});

describe('the trainer', () => {
  afterEach(() => vi.restoreAllMocks());

  it('prints the warning on stderr once per process and does not change the params', async () => {
    const lines: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array, ...rest: unknown[]) => {
      lines.push(String(chunk));
      return write(chunk, ...(rest as []));
    });
    const { x } = gaussianBlobs(30, 3, 8, 2);
    const params = { V: 3, k: [20, 10], clusters: 3, seed: 1 };
    const a = await trainMbn(x, params, { threads: 1 });
    const b = await trainMbn(x, params, { threads: 1 });
    expect(a.params.V).toBe(3);
    expect(b.modelHash).toBe(a.modelHash);
    const warnings = lines.filter((l) => l.includes('cmbn: warning: V=3 is small for 2 layers'));
    expect(warnings).toHaveLength(1);
  });
});
