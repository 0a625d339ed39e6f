/** studentSpecFromRequest: the one builder of the CLI's and the distill job's StudentSpec. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_STUDENT_SPEC, studentSpecFromRequest } from './spec.ts';

describe('studentSpecFromRequest', () => {
  it('sets the requested fields over the defaults and ignores the pipeline knobs', () => {
    expect(studentSpecFromRequest({})).toEqual(DEFAULT_STUDENT_SPEC);
    const conv = { kind: 'conv' as const, filters: 4, kernel: 3, stride: 1 };
    const req = { architecture: conv, hidden: [32], target: 'embedding' as const, epochs: 3, batchSize: 64, learningRate: 0.01, seed: 0, temperature: 0.5, augment: 0 };
    expect(studentSpecFromRequest(req, 81)).toEqual({ ...DEFAULT_STUDENT_SPEC, architecture: conv, hidden: [32], target: 'embedding', epochs: 3, batchSize: 64, learningRate: 0.01, seed: 0 });
  });

  it('checks the spec, against the input when its width is given', () => {
    expect(() => studentSpecFromRequest({ hidden: [8, 0] })).toThrow(/hidden must be positive integers/);
    expect(() => studentSpecFromRequest({ architecture: { kind: 'conv', filters: 4, kernel: 3, stride: 1 } }, 50)).toThrow(/rows of 50 columns are not a square/);
  });
});
