/** Every student option of `cmbn train` reaches the remote distill job's request. */
import { Command } from 'commander';
import { ZStudentRequest } from '@cmbn/jobs';
import { describe, expect, it } from 'vitest';
import { CliError } from '../errors.ts';
import { addDistillOptions } from './train.ts';
import { LOCAL_ONLY_STUDENT_OPTIONS, STUDENT_OPTION_FIELDS, studentRequestFromOptions } from './remote-train.ts';

const parse = (...argv: string[]) => addDistillOptions(new Command().exitOverride()).parse(argv, { from: 'user' }).opts();

describe('studentRequestFromOptions', () => {
  it('maps every --student* option of addDistillOptions (none is dropped)', () => {
    const studentOptions = addDistillOptions(new Command()).options.map((o) => o.attributeName()).filter((n) => n.startsWith('student'));
    expect(studentOptions.sort()).toEqual([...Object.keys(STUDENT_OPTION_FIELDS), ...LOCAL_ONLY_STUDENT_OPTIONS].sort());
  });

  it('sends each flag, 0 values included, in a request the job schema accepts', () => {
    const o = parse(
      '--distill', '--student', '64,32', '--student-target', 'embedding', '--student-epochs', '7',
      '--student-temperature', '0', '--student-precision', 'fp32', '--student-augment', '0',
    );
    const req = studentRequestFromOptions(o);
    expect(req).toEqual({ hidden: [64, 32], target: 'embedding', epochs: 7, temperature: 0, precision: 'fp32', augment: 0 });
    expect(ZStudentRequest.parse(req)).toEqual(req);
    expect(studentRequestFromOptions(parse('--distill'))).toEqual({});
  });

  it('refuses a local-only conv student rather than dropping --student-arch', () => {
    expect(() => studentRequestFromOptions(parse('--distill', '--student-arch', 'conv'))).toThrow(/--student-arch conv is local only/);
    expect(studentRequestFromOptions(parse('--distill', '--student-arch', 'mlp'))).toEqual({});
  });

  it('refuses a width of 0 with a CLI error before anything is uploaded', () => {
    expect(() => studentRequestFromOptions({ student: [64, 0] })).toThrow(CliError);
    expect(() => studentRequestFromOptions({ student: [64, 0] })).toThrow(/--student: hidden must be positive integers/);
  });
});
