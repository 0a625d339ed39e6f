import { InvalidArgumentError } from 'commander';
// options.ts is every command's: it takes the zod-only entry (the package's index loads tfjs and onnxruntime).
import { ARCHITECTURE_KINDS, architectureParams, defaultArchitecture, type ArchitectureKind } from '@cmbn/distill/architecture';

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
export interface ArchitectureOption {
  kind: ArchitectureKind;
  values?: number[];
}

/** Each registered kind's form for help texts: `mlp | conv[:filters,kernel,stride] (default 16,5,2)`. */
export function architectureUsage(): string {
  return ARCHITECTURE_KINDS.map((kind) => {
    const params = architectureParams(kind);
    if (params.length === 0) return kind;
    const d = defaultArchitecture(kind) as unknown as Record<string, unknown>;
    return `${kind}[:${params.join(',')}] (default ${params.map((p) => String(d[p])).join(',')})`;
  }).join(' | ');
}

/**
 * The parser of `--student-arch kind[:values]` (the architecture registry's kinds and their
 * positional parameters, @cmbn/distill architectureParams), so a new kind needs no new flag. The
 * values' own ranges are the kind's check (architectureFromParams), done with the rest of the spec.
 */
export function architectureOption(name: string) {
  return (value: string): ArchitectureOption => {
    const [kind, rest, ...more] = value.split(':');
    if (!(ARCHITECTURE_KINDS as readonly string[]).includes(kind!)) {
      throw new InvalidArgumentError(`${name}: "${kind}" is not a registered architecture; one of ${architectureUsage()}`);
    }
    const k = kind as ArchitectureKind;
    if (rest === undefined) return { kind: k };
    const params = architectureParams(k);
    if (more.length > 0 || params.length === 0) {
      throw new InvalidArgumentError(`${name}: ${k} takes ${params.length ? `${k}:${params.join(',')}` : 'no parameters'}, got "${value}"`);
    }
    const values = intListOption(name)(rest);
    if (values.length !== params.length) throw new InvalidArgumentError(`${name}: ${k} takes ${k}:${params.join(',')}, got "${value}"`);
    return { kind: k, values };
  };
}
