import type { RequestHandler } from 'express';
import { buildOpenApiDocument } from '@cmbn/api';

/** `GET /openapi.json`: the contract (@cmbn/api) as OpenAPI 3.1, generated once per process. Public, like /healthz. */
export function openApiHandler(): RequestHandler {
  let doc: string | undefined;
  return (_req, res) => {
    doc ??= JSON.stringify(buildOpenApiDocument());
    res.type('application/json').send(doc);
  };
}
