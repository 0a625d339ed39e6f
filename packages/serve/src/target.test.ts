import { describe, expect, it } from 'vitest';
import { parseServeTarget } from './target.ts';

describe('parseServeTarget', () => {
  it('reads the registry URIs and takes anything else as a directory', () => {
    expect(parseServeTarget('models:/digits@champion')).toEqual({ kind: 'registry', name: 'digits', alias: 'champion', ref: 'digits@champion', follow: true });
    expect(parseServeTarget('models:/digits/3')).toEqual({ kind: 'registry', name: 'digits', version: 3, ref: 'digits:3', follow: false });
    expect(parseServeTarget('models:/digits/latest')).toEqual({ kind: 'registry', name: 'digits', ref: 'digits', follow: true });
    expect(parseServeTarget('./models/student')).toEqual({ kind: 'directory', dir: './models/student' });
  });
  it.each(['models:/digits', 'models:digits@x', 'models:/digits/0', 'models:/digits/x', 'models:/a/b/c', 'models:/@x', 'models:/digits@'])('refuses %s', (m) => {
    expect(() => parseServeTarget(m)).toThrow(/expected models:\/NAME@ALIAS, models:\/NAME\/VERSION or models:\/NAME\/latest/);
  });
});
