import { Router } from 'express';
import { ZIdParams, ZRunListQuery } from '@cmbn/api';
import type { ArtifactStore } from '@cmbn/artifacts';
import { ZTeacherRef, decodeTeacherEmbedding, decodeTeacherLabels, type TTeacherRef } from '@cmbn/jobs';
import { getDataset, getRun, listRuns, type Run, type RunStatus } from '@cmbn/registry';
import { splitRunParams } from './distill-stage.ts';
import { AppError } from './errors.ts';
import { loadLabels } from './layer-artifacts.ts';
import { confusionMatrix, project2d, type Confusion } from './console-projection.ts';

/** One row of the runs list: what the console's table shows. */
export function runListItem(run: Run) {
  const { mbn, distill } = splitRunParams(run.params);
  const end = run.finishedAt ?? null;
  return {
    id: run.id,
    status: run.status,
    datasetId: run.datasetId,
    labelsId: run.labelsId,
    params: mbn,
    distill: distill !== null,
    ks: run.ks,
    currentLayer: run.currentLayer,
    metrics: run.metrics,
    modelHash: run.modelHash,
    error: run.error,
    createdAt: run.createdAt,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    // Wall time from start to finish (or to now while it runs); null before it started.
    durationSeconds: run.startedAt ? Number((((end ?? new Date()).getTime() - run.startedAt.getTime()) / 1000).toFixed(3)) : null,
  };
}

interface ProjectedRun {
  n: number;
  c: number;
  x: Float32Array;
  y: Float32Array;
  explained: [number, number];
  clusters: Int32Array;
  truth: Int32Array | null;
  confusion: Confusion | null;
}

/**
 * `GET /v1/runs` (the list) and the projector's data. Mounted under /v1 behind the auth middleware.
 *
 * - `GET /v1/runs?limit=&status=` → `{ runs: [...] }`, newest first.
 * - `GET /v1/runs/:id/embedding` → JSON: n, c, the 2-D projection's explained variance and bounds,
 *   cluster sizes, and (when the run has true labels) the confusion matrix against them.
 * - `GET /v1/runs/:id/embedding/points` → `application/octet-stream`, little-endian:
 *   float32 x[n], float32 y[n], int32 cluster[n], then int32 trueLabel[n] when the run has labels
 *   (X-Points, X-Has-Truth headers). 70,000 points are 1.1 MB, against ~3 MB as JSON numbers.
 */
export function consoleApiRouter(deps: { store: ArtifactStore }): Router {
  const r = Router();
  const { store } = deps;
  // The last few projections, by run: a page loads the JSON and the points back to back.
  const cache = new Map<string, ProjectedRun>();

  const projected = async (id: string): Promise<{ run: Run; p: ProjectedRun; ref: TTeacherRef }> => {
    const run = await getRun(id);
    const raw = (run.summary as { mbnOutput?: unknown } | null)?.mbnOutput;
    if (raw === undefined) {
      const why = ['SUCCEEDED', 'DISTILLING'].includes(run.status) ? 'finished before runs stored their embedding' : `is ${run.status}`;
      throw new AppError('MODEL_NOT_READY', `run ${run.id} has no stored embedding: it ${why}`);
    }
    const ref = ZTeacherRef.parse(raw);
    const key = `${run.id}:${ref.embeddingSha256}`;
    let p = cache.get(key);
    if (!p) {
      const [embBytes, labBytes] = await Promise.all([store.get(ref.embeddingSha256), store.get(ref.labelsSha256)]);
      const emb = decodeTeacherEmbedding(embBytes, `embedding of run ${run.id}`, ref.rows, ref.c);
      const clusters = decodeTeacherLabels(labBytes, `labels of run ${run.id}`, ref.rows);
      let truth: Int32Array | null = null;
      if (run.labelsId !== null) {
        const d = await getDataset(run.labelsId);
        truth = await loadLabels(store, d.sha256, d.name);
      }
      const proj = project2d(emb, ref.rows, ref.c);
      p = { n: ref.rows, c: ref.c, x: proj.x, y: proj.y, explained: proj.explained, clusters, truth, confusion: truth ? confusionMatrix(truth, clusters) : null };
      cache.set(key, p);
      while (cache.size > 4) cache.delete(cache.keys().next().value!);
    }
    return { run, p, ref };
  };

  r.get('/runs', async (req, res) => {
    const q = ZRunListQuery.parse(req.query);
    const runs = await listRuns({ limit: q.limit, ...(q.status ? { status: q.status as RunStatus } : {}) });
    res.json({ runs: runs.map(runListItem) });
  });

  r.get('/runs/:id/embedding', async (req, res) => {
    const { run, p, ref } = await projected(ZIdParams.parse(req.params).id);
    const sizes = new Map<number, number>();
    for (const c of p.clusters) sizes.set(c, (sizes.get(c) ?? 0) + 1);
    let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
    for (let i = 0; i < p.n; i++) {
      x0 = Math.min(x0, p.x[i]!);
      x1 = Math.max(x1, p.x[i]!);
      y0 = Math.min(y0, p.y[i]!);
      y1 = Math.max(y1, p.y[i]!);
    }
    res.json({
      runId: run.id,
      n: p.n,
      c: p.c,
      projection: { method: 'pca2 of the embedding', explained: p.explained, bounds: { x: [x0, x1], y: [y0, y1] } },
      clusterSizes: [...sizes.entries()].sort((a, b) => a[0] - b[0]).map(([cluster, count]) => ({ cluster, count })),
      hasTruth: p.truth !== null,
      confusion: p.confusion,
      metrics: run.metrics,
      artifacts: { embeddingSha256: ref.embeddingSha256, labelsSha256: ref.labelsSha256 },
      points: { url: `/v1/runs/${run.id}/embedding/points`, layout: p.truth ? 'f32 x[n], f32 y[n], i32 cluster[n], i32 truth[n]' : 'f32 x[n], f32 y[n], i32 cluster[n]' },
    });
  });

  r.get('/runs/:id/embedding/points', async (req, res) => {
    const { p } = await projected(ZIdParams.parse(req.params).id);
    const parts = [p.x, p.y, p.clusters, ...(p.truth ? [p.truth] : [])].map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength));
    const body = Buffer.concat(parts);
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Content-Length', String(body.length));
    res.setHeader('X-Points', String(p.n));
    res.setHeader('X-Has-Truth', p.truth ? '1' : '0');
    res.end(body);
  });

  return r;
}
