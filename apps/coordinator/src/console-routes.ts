import { existsSync } from 'node:fs';
import { relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router } from 'express';
import { AppError } from './errors.ts';

/** Where `npm run build:console` (vite build in apps/console) writes the page. */
export const CONSOLE_DIST = fileURLToPath(new URL('../../console/dist/', import.meta.url));

/**
 * The web console's static files at `/` (the API stays under /v1). The assets carry no data and
 * are public, like a login page; everything they show comes from /v1, which requires the token or
 * the session cookie. The page routes with `#/…`, so no server-side fallback route is needed.
 */
export function consoleRouter(dist: string = CONSOLE_DIST): Router {
  const r = Router();
  r.use(
    express.static(dist, {
      index: 'index.html',
      // Vite fingerprints everything under dist/assets/; index.html must be re-read to pick up a new
      // build. Judged on the path inside dist: the directory dist itself lies in may be called anything.
      setHeaders: (res, path) => res.setHeader('Cache-Control', relative(dist, path).split(sep)[0] === 'assets' ? 'public, max-age=31536000, immutable' : 'no-cache'),
    }),
  );
  r.get('/', (_req, _res, next) => {
    // Reached only when dist/index.html is missing.
    next(new AppError('NOT_FOUND', existsSync(dist) ? `the console build in ${dist} has no index.html` : 'the console is not built: run `npm run build:console`'));
  });
  return r;
}
