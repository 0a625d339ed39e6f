/**
 * /openapi.json covers every route: the express app's router stack is walked (sub-routers
 * included) and each route must be in the served document, and each documented route must exist.
 */
import { describe, expect, it } from 'vitest';
import type { Express } from 'express';
import { apiRoutes, openApiPath, type OpenApiDocument } from '@cmbn/api';
import { useTestCoordinator } from './test-helpers.ts';

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
  rawPath?: string | string[];
}

/** Every `METHOD path` the app routes, with mount paths of sub-routers prefixed. */
function expressRoutes(app: Express): string[] {
  const out: string[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const l of stack) {
      if (l.route) {
        for (const p of ([] as string[]).concat(l.route.path)) {
          for (const [m, on] of Object.entries(l.route.methods)) if (on && m !== '_all') out.push(`${m.toUpperCase()} ${(prefix + p).replace(/\/$/, '') || '/'}`);
        }
      } else if (l.handle?.stack) {
        const mount = typeof l.rawPath === 'string' && l.rawPath !== '/' ? l.rawPath : '';
        walk(l.handle.stack, prefix + mount);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return [...new Set(out)].sort();
}

const t = useTestCoordinator({ maxUploadBytes: 1000 });

describe('GET /openapi.json', () => {
  it('serves an OpenAPI 3.1 document without a token', async () => {
    const res = await fetch(`${t.coordinator.url}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const doc = (await res.json()) as OpenApiDocument;
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toMatch(/cmbn/);
  });

  it('documents every route of the app, and documents no route the app lacks', async () => {
    const doc = (await (await fetch(`${t.coordinator.url}/openapi.json`)).json()) as OpenApiDocument;
    const routes = expressRoutes(t.coordinator.app);
    // The walk itself must see the app: the known routes of every router are there.
    expect(routes).toEqual(expect.arrayContaining(['GET /healthz', 'GET /openapi.json', 'POST /v1/runs', 'GET /v1/models/:name/versions', 'POST /v1/models/:name/aliases/:alias/rollback']));
    const undocumented = routes.filter((r) => {
      const [m, p] = r.split(' ') as [string, string];
      return doc.paths[openApiPath(p)]?.[m.toLowerCase()] === undefined;
    });
    expect(undocumented).toEqual([]);
    const missing = apiRoutes.map((r) => `${r.method.toUpperCase()} ${r.path}`).filter((r) => !routes.includes(r));
    expect(missing).toEqual([]);
  });
});
