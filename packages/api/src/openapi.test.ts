import { describe, expect, it } from 'vitest';
import { apiRoutes, buildOpenApiDocument, documentValidator, findRoute, openApiPath, ZVersionSearchQuery } from './index.ts';

describe('OpenAPI document', () => {
  const doc = buildOpenApiDocument();
  const v = documentValidator(doc);

  it('is OpenAPI 3.1 with every route of the table, each with an error response', () => {
    expect(doc.openapi).toBe('3.1.0');
    for (const r of apiRoutes) {
      const op = doc.paths[openApiPath(r.path)]?.[r.method];
      expect(op, `${r.method} ${r.path}`).toBeDefined();
      expect(Object.keys(op!.responses)).toContain('default');
      for (const s of Object.keys(r.responses)) expect(Object.keys(op!.responses)).toContain(s);
    }
    // Named components: clients get one schema per body, referenced from every route that uses it.
    expect(Object.keys(doc.components?.schemas ?? {})).toEqual(expect.arrayContaining(['Run', 'RunLayer', 'Dataset', 'ModelVersion', 'AliasEvent', 'AliasHistory', 'VersionSearchPage', 'Error']));
    expect(JSON.stringify(doc.paths['/v1/runs/{id}'])).toContain('#/components/schemas/Run');
  });

  it("checks answers against the document's own JSON schemas", () => {
    const version = {
      id: 'u', modelName: 'm', version: 1, status: 'READY', artifactSha256: 'a'.repeat(64), artifactBytes: 3, metrics: {}, signature: {}, runId: null,
      datasetSha256: 'd', mbnModelHash: 'e', params: {}, backend: 'wasm', tags: {}, idempotencyKey: null, createdAt: '2026-12-01T10:00:00.000Z', readyAt: null,
    };
    expect(v.check('GET', '/v1/models/m/versions/1', 200, 'application/json; charset=utf-8', version)).toEqual([]);
    expect(v.check('GET', '/v1/models/m/versions/1', 200, 'application/json', { ...version, status: 'DONE' })[0]).toMatch(/status/);
    expect(v.check('GET', '/v1/models/m/versions/1', 200, 'application/json', { ...version, createdAt: 'yesterday' })[0]).toMatch(/createdAt/);
    expect(v.check('GET', '/v1/models/m/versions', 200, 'application/json', { versions: [{ ...version, aliases: ['prod'] }], nextPageToken: null })).toEqual([]);
    // Any error status is the error body.
    expect(v.check('DELETE', '/v1/models/m/versions/1', 409, 'application/json', { error: { code: 'ALIAS_IN_USE', message: 'x' } })).toEqual([]);
    expect(v.check('DELETE', '/v1/models/m/versions/1', 409, 'application/json', { message: 'x' })).not.toEqual([]);
    expect(v.check('GET', '/v1/nope', 200, 'application/json', {})).toEqual(['GET /v1/nope: no documented route']);
    expect(v.check('GET', '/v1/runs/r1/model', 200, 'text/html', '')[0]).toMatch(/content type text\/html not documented/);
  });

  it('matches request paths to routes, literal segments first', () => {
    expect(findRoute('GET', '/v1/models/m/versions')?.path).toBe('/v1/models/:name/versions');
    expect(findRoute('GET', '/v1/models/m@prod/artifact')?.path).toBe('/v1/models/:ref/artifact');
    expect(findRoute('POST', '/v1/models/m/aliases/prod/rollback')?.path).toBe('/v1/models/:name/aliases/:alias/rollback');
    expect(v.pathOf('GET', '/v1/runs/abc/embedding/points')).toBe('/v1/runs/{id}/embedding/points');
  });

  it('parses the search query: repeated tags, metric bounds, and nothing unknown', () => {
    expect(ZVersionSearchQuery.parse({ tag: ['a=b', 'c'], min_agreement: '0.95', page_size: '10' })).toMatchObject({ tag: ['a=b', 'c'], min_agreement: 0.95, page_size: 10 });
    expect(ZVersionSearchQuery.safeParse({ min_agreement: 'high' }).success).toBe(false);
    expect(ZVersionSearchQuery.safeParse({ min_bogus: '1' }).success).toBe(false);
    expect(ZVersionSearchQuery.safeParse({ created_after: 'yesterday' }).success).toBe(false);
  });
});
