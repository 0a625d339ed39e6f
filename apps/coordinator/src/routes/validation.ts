import { json, type RequestHandler } from 'express';
import { AppError } from '../errors.ts';

// The id, name and version rules are part of the API contract (@cmbn/api), shared with its clients.
export { INT4_MAX, ZId, ZIdParams, ZName, ZVersionNumber, ZVersionParam } from '@cmbn/api';

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
