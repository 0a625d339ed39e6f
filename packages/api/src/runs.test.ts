/** The runs contract: what the CLI's `train --remote` reads from it is typed, in zod and in the document. */
import { describe, expect, it } from 'vitest';
import { buildOpenApiDocument, documentValidator } from './index.ts';
import { ZRunView, ZSubmittedRun } from './runs.ts';

const run = {
  id: 'r1', status: 'SUCCEEDED', datasetId: 'd1', labelsId: null, params: { V: 10 }, distill: null, ks: [20, 10], shardSize: null, currentLayer: 2,
  layers: [], etaSeconds: null, modelHash: 'a'.repeat(64), metrics: { acc: 0.9, nmi: 0.8, ari: 0.7 }, summary: null, student: null, mbnSeconds: 1.5,
  error: null, createdAt: '2026-12-01T10:00:00.000Z', startedAt: null, finishedAt: null,
};

describe('POST /v1/runs answer', () => {
  const v = documentValidator(buildOpenApiDocument());

  it('declares the warnings as a required list of sentences', () => {
    const ok = { id: 'r1', status: 'QUEUED', ks: [20, 10], warnings: ['V=4 is small for 2 layers'] };
    expect(ZSubmittedRun.parse(ok)).toEqual(ok);
    expect(ZSubmittedRun.safeParse({ ...ok, warnings: undefined }).success).toBe(false);
    expect(ZSubmittedRun.safeParse({ ...ok, warnings: [3] }).success).toBe(false);
    expect(v.check('POST', '/v1/runs', 201, 'application/json', ok)).toEqual([]);
    expect(v.check('POST', '/v1/runs', 201, 'application/json', { ...ok, warnings: undefined }).join()).toMatch(/warnings/);
  });
});

describe('GET /v1/runs/:id answer', () => {
  const v = documentValidator(buildOpenApiDocument());

  it('types the clustering metrics the CLI prints (acc, nmi, ari), or null', () => {
    expect(ZRunView.parse(run).metrics).toEqual({ acc: 0.9, nmi: 0.8, ari: 0.7 });
    expect(ZRunView.parse({ ...run, metrics: null }).metrics).toBeNull();
    for (const metrics of [{ acc: '0.9', nmi: 0.8, ari: 0.7 }, { acc: 0.9, nmi: 0.8 }, { acc: 1.2, nmi: 0.8, ari: 0.7 }]) {
      expect(ZRunView.safeParse({ ...run, metrics }).success, JSON.stringify(metrics)).toBe(false);
    }
    expect(v.check('GET', '/v1/runs/r1', 200, 'application/json', run)).toEqual([]);
    expect(v.check('GET', '/v1/runs/r1', 200, 'application/json', { ...run, metrics: { acc: 'high' } }).join()).toMatch(/metrics/);
  });
});
