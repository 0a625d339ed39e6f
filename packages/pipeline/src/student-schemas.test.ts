import { describe, expect, it } from 'vitest';
import { headOfStudentMeta, isCentroidHead } from './student-labeler.ts';
import { parseWith, ZStudentMeta, ZStudentRecipe } from './student-schemas.ts';

const evaluation = { on: 'eval', evalName: 'mnist-test', points: 10, agreement: 0.9, acc: 0.8, timingPoints: 10, studentPointsPerSecond: 1e5, mbnPointsPerSecond: 100, speedup: 1000 };
const meta = {
  mbnModelHash: 'a'.repeat(64),
  datasetSha256: 'b'.repeat(64),
  params: { V: 100 },
  evaluation,
  recipe: { architecture: { kind: 'conv', filters: 16, kernel: 5, stride: 2 }, hidden: [256], target: 'labels', augmented: 50000, precision: 'int8' },
};

describe('student schemas', () => {
  it('reads what the writer writes; older recipes (no architecture) read as the MLP', () => {
    expect(parseWith(ZStudentMeta, meta, 'meta')).toEqual({ ...meta, runId: null });
    expect(ZStudentRecipe.parse({ hidden: [512, 512], target: 'labels', augmented: 0, precision: 'int8' }).architecture).toEqual({ kind: 'mlp' });
  });

  it('refuses a bad field, naming it', () => {
    expect(() => parseWith(ZStudentMeta, { ...meta, evaluation: { ...evaluation, agreement: 1.5 } }, 'student.json meta')).toThrow(/^student\.json meta: evaluation\.agreement: /);
    expect(() => parseWith(ZStudentMeta, { ...meta, recipe: { ...meta.recipe, architecture: { kind: 'rnn' } } }, 'meta')).toThrow(/recipe\.architecture/);
    expect(() => parseWith(ZStudentMeta, { ...meta, datasetSha256: 'xyz' }, 'meta')).toThrow(/datasetSha256/);
    expect(isCentroidHead({ kind: 'nearest-centroid', k: 2, centroids: [0, 1, 2, 3] })).toBe(true);
    expect(isCentroidHead({ kind: 'nearest-centroid', k: 2, centroids: ['x'] })).toBe(false);
  });

  it('the readers\' head: none for a labels student, the parsed head, or an error naming the student', () => {
    expect(headOfStudentMeta(meta, 'dir')).toBeUndefined();
    const head = { kind: 'nearest-centroid', k: 2, centroids: [0, 1, 2, 3] };
    expect(headOfStudentMeta({ ...meta, head }, 'dir')).toEqual(head);
    // A head that is there but malformed is refused, not dropped (the student would label by argmax).
    expect(() => headOfStudentMeta({ ...meta, head: { ...head, centroids: ['x'] } }, 'models/s:3')).toThrow(/^models\/s:3: student\.json's meta\.head: centroids\.0: /);
    expect(() => headOfStudentMeta({ ...meta, head: { kind: 'nearest-median', k: 2, centroids: [0, 1] } }, 'dir')).toThrow(/meta\.head: kind/);
  });
});
