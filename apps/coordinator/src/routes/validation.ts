import { json, type RequestHandler } from 'express';
import { z } from 'zod';
import { AppError } from '../errors.ts';

/** Largest value of a Postgres int4 column (model versions). */
export const INT4_MAX = 2_147_483_647;

// C0 controls and DEL: never part of an id or a name, and Postgres cannot store NUL at all.
const CONTROL = /[\u0000-\u001f\u007f]/;

const noControl = (s: string) => !CONTROL.test(s);
const NO_CONTROL = 'must not contain control characters (NUL, newline, …)';

/** A dataset, run or version id (uuid or sha256, checked by the registry): bounded, no control characters. */
export const ZId = z.string().min(1).max(200).refine(noControl, NO_CONTROL);
/** A display or model name, an alias, a model ref. */
export const ZName = (max: number) => z.string().min(1).max(max).refine(noControl, NO_CONTROL);
/** A version number in a path segment: a positive integer that fits the int4 column. */
export const ZVersionParam = z.coerce.number().int().min(1).max(INT4_MAX);
/** A version number in a JSON body. */
export const ZVersionNumber = z.number().int().min(1).max(INT4_MAX);

export const ZIdParams = z.object({ id: ZId });

/** Keys that would reach an object's prototype when a body is copied with `obj[key] = …` (zod's record does). */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_DEPTH = 64;

/**
 * Where a parsed JSON body is unsafe, as a path (`params.__proto__`), or undefined. JSON.parse
 * (Express's parser) keeps `"__proto__"` as an own key, so it is seen here; a NUL in any key or
 * string cannot be stored by Postgres.
 */
export function unsafeJsonPath(value: unknown, path = '', depth = 0): { path: string; why: string } | undefined {
  if (depth > MAX_DEPTH) return { path: path || '(root)', why: `is nested deeper than ${MAX_DEPTH} levels` };
  if (typeof value === 'string') return value.includes('\u0000') ? { path: path || '(root)', why: 'contains a NUL character' } : undefined;
  if (value === null || typeof value !== 'object') return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const bad = unsafeJsonPath(value[i], `${path}[${i}]`, depth + 1);
      if (bad) return bad;
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    const at = path ? `${path}.${key}` : key;
    if (FORBIDDEN_KEYS.has(key)) return { path: at, why: 'is a forbidden key' };
    if (key.includes('\u0000')) return { path: JSON.stringify(at), why: 'contains a NUL character' };
    const bad = unsafeJsonPath((value as Record<string, unknown>)[key], at, depth + 1);
    if (bad) return bad;
  }
  return undefined;
}

/** express.json() followed by the unsafe-key / NUL check: a JSON body route's parser. */
export function jsonBody(limit: string): RequestHandler[] {
  return [
    json({ limit }),
    (req, _res, next) => {
      const bad = unsafeJsonPath(req.body);
      next(bad ? new AppError('BAD_REQUEST', `body: ${bad.path} ${bad.why}`) : undefined);
    },
  ];
}
