/** Every student option of `cmbn train` reaches the remote distill job's request. */
import { Command } from 'commander';
import { studentRequestProblem, ZStudentRequest } from '@cmbn/jobs';
import { describe, expect, it } from 'vitest';
import { CliError } from '../errors.ts';
import { addDistillOptions } from './train.ts';
import { STUDENT_OPTION_FIELDS, studentRequestFromOptions } from './remote-train.ts';

// Commander's own refusals are thrown (exitOverride), not printed.
const parse = (...argv: string[]) =>
  addDistillOptions(new Command().exitOverride().configureOutput({ writeErr: () => {} })).parse(argv, { from: 'user' }).opts();

describe('studentRequestFromOptions', () => {
  it('maps every --student* option of addDistillOptions (none is dropped)', () => {
    const studentOptions = addDistillOptions(new Command()).options.map((o) => o.attributeName()).filter((n) => n.startsWith('student'));
    expect(studentOptions.sort()).toEqual(Object.keys(STUDENT_OPTION_FIELDS).sort());
    // Each one names a field of the job's request (the table's `satisfies` checks it too, at compile time).
    for (const field of Object.values(STUDENT_OPTION_FIELDS)) expect(Object.keys(ZStudentRequest.shape)).toContain(field);
  });

  it('sends each flag, 0 values included, in a request the job schema accepts', () => {
    const o = parse(
      '--distill', '--student', '64,32', '--student-target', 'embedding', '--student-epochs', '7',
      '--student-temperature', '0', '--student-precision', 'fp32', '--student-augment', '0', '--student-trainer', 'ort',
    );
    const req = studentRequestFromOptions(o);
    expect(req).toEqual({ hidden: [64, 32], target: 'embedding', epochs: 7, temperature: 0, precision: 'fp32', augment: 0, trainer: 'ort' });
    expect(ZStudentRequest.parse(req)).toEqual(req);
    expect(studentRequestFromOptions(parse('--distill'))).toEqual({});
  });

  it('sends the conv architecture of --student-arch kind[:params], defaults filled in as locally', () => {
    const explicit = studentRequestFromOptions(parse('--distill', '--student-arch', 'conv:8,3,1', '--student', '32'));
    expect(explicit).toEqual({ architecture: { kind: 'conv', filters: 8, kernel: 3, stride: 1 }, hidden: [32] });
    expect(ZStudentRequest.parse(explicit)).toEqual(explicit);
    // The deprecated --student-conv F,K,S is --student-arch conv:F,K,S (and implies conv).
    expect(studentRequestFromOptions(parse('--distill', '--student-arch', 'conv', '--student-conv', '8,3,1', '--student', '32'))).toEqual(explicit);
    expect(studentRequestFromOptions(parse('--distill', '--student-conv', '4,5,2'))).toEqual({ architecture: { kind: 'conv', filters: 4, kernel: 5, stride: 2 } });
    // --student-arch conv alone takes the local defaults (DEFAULT_CONV).
    expect(studentRequestFromOptions(parse('--distill', '--student-arch', 'conv'))).toEqual({ architecture: { kind: 'conv', filters: 16, kernel: 5, stride: 2 } });
    expect(studentRequestFromOptions(parse('--distill', '--student-arch', 'mlp'))).toEqual({ architecture: { kind: 'mlp' } });
  });

  it('refuses bad conv specs with a CLI error, as local training does', () => {
    const cases: [string[], RegExp][] = [
      [['--student-arch', 'conv:8,65,1'], /--student: architecture conv: kernel: /],
      [['--student-conv', '8,65,1'], /--student: architecture conv: kernel: /],
      [['--student-conv', '8,5'], /--student: a conv architecture takes filters,kernel,stride, got 8,5/],
      [['--student-arch', 'mlp', '--student-conv', '8,5,2'], /--student-conv needs --student-arch conv, got mlp/],
      [['--student-arch', 'conv:8,5,2', '--student-conv', '8,5,2'], /both set the convolution/],
    ];
    for (const [flags, message] of cases) {
      expect(() => studentRequestFromOptions(parse('--distill', ...flags)), flags.join(' ')).toThrow(CliError);
      expect(() => studentRequestFromOptions(parse('--distill', ...flags)), flags.join(' ')).toThrow(message);
    }
    // The flag's parser knows the registered kinds and their positional forms.
    expect(() => parse('--distill', '--student-arch', 'transformer')).toThrow(/"transformer" is not a registered architecture; one of mlp \| conv\[:filters,kernel,stride\] \(default 16,5,2\)/);
    expect(() => parse('--distill', '--student-arch', 'conv:8,5')).toThrow(/--student-arch: conv takes conv:filters,kernel,stride, got "conv:8,5"/);
    expect(() => parse('--distill', '--student-arch', 'mlp:3')).toThrow(/--student-arch: mlp takes no parameters, got "mlp:3"/);
    expect(() => parse('--distill', '--student-arch', 'conv:8,5:2')).toThrow(/--student-arch: conv takes conv:filters,kernel,stride/);
    expect(() => parse('--distill', '--student-arch', 'conv:0,5,2')).toThrow(/positive integers/);
    expect(() => parse('--distill', '--student-trainer', 'pytorch')).toThrow(/Allowed choices are tfjs, ort/);
    // The onnxruntime trainer builds MLP graphs only: the same rule as the job's (studentRequestProblem).
    expect(() => studentRequestFromOptions(parse('--distill', '--student-arch', 'conv', '--student-trainer', 'ort'))).toThrow(/--student-trainer: the onnxruntime trainer trains the mlp student only/);
    expect(studentRequestProblem({ architecture: { kind: 'conv', filters: 4, kernel: 5, stride: 2 }, trainer: 'ort' }, 784)).toMatch(/onnxruntime trainer trains the mlp student only/);
    expect(studentRequestProblem({ trainer: 'ort' }, 784)).toBeNull();
    // Widths 0 never pass the flag parser; from options they are the spec's CLI error.
    expect(() => parse('--distill', '--student-conv', '0,5,2')).toThrow(/positive integers/);
    expect(() => studentRequestFromOptions({ studentConv: [0, 5, 2] })).toThrow(/--student: architecture conv: filters: /);
  });

  it('refuses a width of 0 with a CLI error before anything is uploaded', () => {
    expect(() => studentRequestFromOptions({ student: [64, 0] })).toThrow(CliError);
    expect(() => studentRequestFromOptions({ student: [64, 0] })).toThrow(/--student: hidden must be positive integers/);
  });
});
