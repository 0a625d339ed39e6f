/**
 * `kind[:values]`, the text form of an architecture that the CLI's --student-arch and
 * bench:compression both parse with parseArchitectureText: kinds and parameter names come from the
 * registry, and every malformed text is a RangeError that says what is wrong.
 */
import { describe, expect, it } from 'vitest';
import { architectureFromParams, architectureTextUsage, parseArchitectureText } from './architecture.ts';

describe('parseArchitectureText', () => {
  it('reads a kind alone or with all of its positional parameters', () => {
    expect(parseArchitectureText('mlp')).toEqual({ kind: 'mlp' });
    expect(parseArchitectureText('conv')).toEqual({ kind: 'conv' });
    expect(parseArchitectureText('conv:8,3,1')).toEqual({ kind: 'conv', values: [8, 3, 1] });
    expect(parseArchitectureText('conv: 8, 3 ,1')).toEqual({ kind: 'conv', values: [8, 3, 1] });
    const { kind, values } = parseArchitectureText('conv:8,3,1');
    expect(architectureFromParams(kind, values)).toEqual({ kind: 'conv', filters: 8, kernel: 3, stride: 1 });
  });

  it('refuses unknown kinds, wrong counts, parameters on a kind without them, and non-integers', () => {
    expect(() => parseArchitectureText('transformer')).toThrow(new RangeError(`"transformer" is not a registered architecture; one of ${architectureTextUsage()}`));
    expect(() => parseArchitectureText('conv:8,5')).toThrow(new RangeError('conv takes conv:filters,kernel,stride, got "conv:8,5"'));
    expect(() => parseArchitectureText('conv:8,5,2:1')).toThrow(new RangeError('conv takes conv:filters,kernel,stride, got "conv:8,5,2:1"'));
    expect(() => parseArchitectureText('mlp:3')).toThrow(new RangeError('mlp takes no parameters, got "mlp:3"'));
    for (const bad of ['conv:8,x,2', 'conv:8,,2', 'conv:8,2.5,2', 'conv:0,5,2', 'conv:']) {
      expect(() => parseArchitectureText(bad)).toThrow(new RangeError(`conv's parameters must be positive integers (conv:filters,kernel,stride), got "${bad}"`));
    }
  });

  it('lists every registered kind with its parameters and defaults', () => {
    expect(architectureTextUsage()).toBe('mlp | conv[:filters,kernel,stride] (default 16,5,2)');
  });
});
