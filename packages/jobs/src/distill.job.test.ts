/** The distill job's student request: the architecture union of @cmbn/distill, checked against the data. */
import { describe, expect, it } from 'vitest';
import { ZStudentArchitecture } from '@cmbn/distill/architecture';
import { studentRequestProblem, ZStudentRequest } from './distill.job.ts';

describe('ZStudentRequest.architecture', () => {
  it('takes both kinds of the union as they are', () => {
    const conv = { architecture: { kind: 'conv', filters: 8, kernel: 3, stride: 1 }, hidden: [16] };
    expect(ZStudentRequest.parse(conv)).toEqual(conv);
    expect(ZStudentRequest.parse({ architecture: { kind: 'mlp' } })).toEqual({ architecture: { kind: 'mlp' } });
    expect(ZStudentRequest.parse({})).toEqual({});
  });

  it('is the distill package schema itself, not a copy', () => {
    expect(ZStudentRequest.shape.architecture.unwrap()).toBe(ZStudentArchitecture);
  });

  it('refuses an unknown kind, a zero width, a missing field and a stray one, naming the path', () => {
    const bad = [
      { architecture: { kind: 'transformer' } },
      { architecture: 'conv' },
      { architecture: { kind: 'conv', filters: 0, kernel: 3, stride: 1 } },
      { architecture: { kind: 'conv', filters: 8, kernel: 3 } },
      { architecture: { kind: 'mlp', filters: 8 } },
    ];
    for (const b of bad) {
      const r = ZStudentRequest.safeParse(b);
      expect(r.success, JSON.stringify(b)).toBe(false);
      expect(r.error!.issues[0]!.path[0]).toBe('architecture');
    }
  });
});

describe('studentRequestProblem', () => {
  const conv = (kernel: number) => ({ architecture: { kind: 'conv' as const, filters: 4, kernel, stride: 1 } });

  it('passes an MLP or no architecture on any width, and a conv student on square images', () => {
    expect(studentRequestProblem({}, 5)).toBeNull();
    expect(studentRequestProblem({ architecture: { kind: 'mlp' } }, 5)).toBeNull();
    expect(studentRequestProblem(conv(5), 784)).toBeNull();
    expect(studentRequestProblem(conv(28), 784)).toBeNull();
  });

  it('names the problem of a conv student on rows that are not a square, or a kernel larger than the image', () => {
    expect(studentRequestProblem(conv(3), 5)).toMatch(/square single-channel images; rows of 5 columns are not a square/);
    expect(studentRequestProblem(conv(29), 784)).toMatch(/conv kernel 29 is larger than the 28×28 image/);
  });
});
