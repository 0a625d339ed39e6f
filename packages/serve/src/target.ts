/**
 * What `cmbn serve MODEL` names: an MLflow-style registry URI or a pulled student directory.
 *   models:/NAME@ALIAS     the version ALIAS points at, followed as the alias moves
 *   models:/NAME/VERSION   one fixed version
 *   models:/NAME/latest    the highest READY version, followed as new versions become READY
 *   anything else          a student directory (saved by `train --distill` or `models pull`)
 * `ref` is the registry's own reference syntax (NAME@ALIAS | NAME:VERSION | NAME).
 */
import { ServeError } from './errors.ts';

export type ServeTarget =
  | { kind: 'registry'; name: string; ref: string; follow: boolean; alias?: string; version?: number }
  | { kind: 'directory'; dir: string };

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function parseServeTarget(model: string): ServeTarget {
  if (!model.startsWith('models:')) return { kind: 'directory', dir: model };
  const bad = (why: string) =>
    new ServeError('BAD_TARGET', `${JSON.stringify(model)}: ${why}; expected models:/NAME@ALIAS, models:/NAME/VERSION or models:/NAME/latest`);
  const m = /^models:\/(.+)$/.exec(model);
  if (!m) throw bad('a registry model URI starts with models:/');
  const rest = m[1]!;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const name = rest.slice(0, at);
    const alias = rest.slice(at + 1);
    if (!NAME.test(name)) throw bad(`invalid model name ${JSON.stringify(name)}`);
    if (!NAME.test(alias)) throw bad(`invalid alias ${JSON.stringify(alias)}`);
    return { kind: 'registry', name, alias, ref: `${name}@${alias}`, follow: true };
  }
  const parts = rest.split('/');
  if (parts.length !== 2) throw bad('missing @ALIAS or /VERSION');
  const [name, v] = parts as [string, string];
  if (!NAME.test(name)) throw bad(`invalid model name ${JSON.stringify(name)}`);
  if (v === 'latest') return { kind: 'registry', name, ref: name, follow: true };
  if (!/^[1-9]\d{0,8}$/.test(v)) throw bad(`invalid version ${JSON.stringify(v)}`);
  return { kind: 'registry', name, version: Number(v), ref: `${name}:${v}`, follow: false };
}
