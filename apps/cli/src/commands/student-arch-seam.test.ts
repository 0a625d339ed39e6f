/**
 * The CLI side of the architecture seam (docs/ARCHITECTURE.md, "Adding a third architecture"): a
 * kind registered in @cmbn/distill's architecture-registry.ts alone is a `--student-arch` choice,
 * with its positional parameters, defaults, errors and help text, locally and over --remote, and no
 * CLI file names it. The test-only `crop` kind is registered as in architecture-seam.test.ts.
 */
import { Command } from 'commander';
import { describe, expect, it, vi } from 'vitest';
import type * as RegistryModule from '../../../../packages/distill/src/architecture-registry.ts';
import { addDistillOptions } from './train.ts';
import { studentRequestFromOptions } from './remote-train.ts';
import { studentSpecFromOptions } from '../distill-step.ts';

vi.mock('../../../../packages/distill/src/architecture-registry.ts', async (importOriginal) =>
  (await import('../../../../packages/distill/src/test-crop-architecture.ts')).registryWithCrop(await importOriginal<typeof RegistryModule>()),
);

const command = () => addDistillOptions(new Command().exitOverride().configureOutput({ writeErr: () => {} }));
const parse = (...argv: string[]) => command().parse(argv, { from: 'user' }).opts();

describe('--student-arch with a kind registered in @cmbn/distill only', () => {
  it('parses the kind and its positional parameters, its defaults filled in', () => {
    expect(studentSpecFromOptions(parse('--distill', '--student-arch', 'crop:3')).architecture).toEqual({ kind: 'crop', margin: 3 });
    expect(studentSpecFromOptions(parse('--distill', '--student-arch', 'crop')).architecture).toEqual({ kind: 'crop', margin: 4 });
    expect(studentRequestFromOptions(parse('--distill', '--student-arch', 'crop:2', '--student', '8'))).toEqual({ architecture: { kind: 'crop', margin: 2 }, hidden: [8] });
  });

  it('refuses a wrong parameter count, and names the kind in the choices and the help', () => {
    expect(() => parse('--distill', '--student-arch', 'crop:1,2')).toThrow(/--student-arch: crop takes crop:margin, got "crop:1,2"/);
    expect(() => parse('--distill', '--student-arch', 'tiles')).toThrow(/one of mlp \| conv\[:filters,kernel,stride\] \(default 16,5,2\) \| crop\[:margin\] \(default 4\)/);
    expect(command().helpInformation().replace(/\s+/g, ' ')).toContain('crop[:margin] (default 4)');
  });
});
