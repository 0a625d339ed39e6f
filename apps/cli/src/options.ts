import { InvalidArgumentError } from 'commander';
// options.ts is every command's: it takes the zod-only entry (the package's index loads tfjs and onnxruntime).
import { parseArchitectureText, type ArchitectureText } from '@cmbn/distill/architecture';

export function intOption(name: string, min = 0) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}, got "${value}"`);
    return n;
  };
}

export function floatOption(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got "${value}"`);
    return n;
  };
}

export function intListOption(name: string) {
  return (value: string): number[] => {
    const parts = value.split(',').map((s) => s.trim());
    const out = parts.map(Number);
    if (parts.some((p) => p === '') || out.some((n) => !Number.isInteger(n) || n < 1)) {
      throw new InvalidArgumentError(`${name} must be a comma-separated list of positive integers, got "${value}"`);
    }
    return out;
  };
}

/** `--student-arch kind[:values]`: a registered kind and, optionally, its positional parameters. */
export type ArchitectureOption = ArchitectureText;

/**
 * `--student-arch kind[:values]`: @cmbn/distill's parser (parseArchitectureText), its error under the
 * flag's name. The values' own ranges are the kind's check (architectureFromParams), done with the
 * rest of the spec.
 */
export function architectureOption(name: string) {
  return (value: string): ArchitectureOption => {
    try {
      return parseArchitectureText(value);
    } catch (err) {
      throw new InvalidArgumentError(`${name}: ${(err as Error).message}`);
    }
  };
}
