import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import type { RouteConfig } from '@asteasolutions/zod-to-openapi';
import { ZErrorBody } from './common.ts';
import { apiRoutes, openApiPath } from './routes.ts';
import type { ApiRoute } from './routes.ts';

/** The shape of the generated document that readers here rely on (the rest is plain OpenAPI 3.1). */
export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema?: unknown }> }> }>>;
  components?: { schemas?: Record<string, unknown> };
}

const BINARY = { type: 'string', format: 'binary' } as const;

function toRouteConfig(r: ApiRoute): RouteConfig {
  const responses: RouteConfig['responses'] = {};
  for (const [status, res] of Object.entries(r.responses)) {
    const content = res.json ? { 'application/json': { schema: res.json } } : res.contentType ? { [res.contentType]: { schema: BINARY } } : undefined;
    responses[status] = { description: res.description, ...(content ? { content } : {}) };
  }
  responses.default = { description: 'an error: `{ error: { code, message } }` (5xx add errorId)', content: { 'application/json': { schema: ZErrorBody } } };
  const body = r.body ? { content: { [r.body.contentType]: { schema: r.body.schema ?? BINARY } }, required: true, ...(r.body.description ? { description: r.body.description } : {}) } : undefined;
  return {
    method: r.method,
    path: openApiPath(r.path),
    summary: r.summary,
    tags: [r.tag],
    ...(r.auth ? { security: [{ bearer: [] }, { session: [] }] } : {}),
    request: { ...(r.params ? { params: r.params } : {}), ...(r.query ? { query: r.query } : {}), ...(body ? { body } : {}) },
    responses,
  };
}

/** The OpenAPI 3.1 document of every route in the table, generated from the same zod schemas the server and clients use. */
export function buildOpenApiDocument(opts: { version?: string; serverUrl?: string } = {}): OpenApiDocument {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', description: 'CMBN_API_TOKEN or one of CMBN_API_TOKENS' });
  registry.registerComponent('securitySchemes', 'session', { type: 'apiKey', in: 'cookie', name: 'cmbn_session', description: 'the console session cookie (POST /v1/session)' });
  for (const r of apiRoutes) registry.registerPath(toRouteConfig(r));
  const doc = new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'cmbn coordinator API',
      version: opts.version ?? '1',
      description: 'Runs, layers, datasets and the model registry (versions, aliases and their history, search, deletion, artifact GC). Generated from @cmbn/api.',
    },
    ...(opts.serverUrl ? { servers: [{ url: opts.serverUrl }] } : {}),
  });
  return doc as unknown as OpenApiDocument;
}
