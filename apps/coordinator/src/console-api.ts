import { Router } from 'express';
import { ZClusteringMetrics, ZIdParams, ZRunListQuery, iso, type TClusteringMetrics, type TRunEmbedding, type TRunList, type TRunListItem } from '@cmbn/api';
import type { ArtifactStore } from '@cmbn/artifacts';
import { ZTeacherRef, decodeTeacherEmbedding, decodeTeacherLabels, type TTeacherRef } from '@cmbn/jobs';
import { getDataset, getRun, listRuns, type Run, type RunStatus } from '@cmbn/registry';
import { splitRunParams } from './distill-stage.ts';
import { AppError } from './errors.ts';
import { loadLabels } from './layer-artifacts.ts';
import { projectRunInThread, type ProjectedRun } from './console-projection.ts';

/**
 * A run's stored metrics as the contract types them. They are written by finish.ts from
 * clusteringMetrics only; a row that does not match is the server's fault (500), not the client's,
 * so this throws a plain Error rather than a ZodError (which the edge maps to 400).
 */
export function storedMetrics(run: Run): TClusteringMetrics | null {
  if (run.metrics === null) return null;
  const r = ZClusteringMetrics.safeParse(run.metrics);
  if (!r.success) throw new Error(`run ${run.id}: stored metrics do not match the contract: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

/** One row of the runs list: what the console's table shows. */
export function runListItem(run: Run): TRunListItem {
  const { mbn, distill } = splitRunParams(run.params);
  const end = run.finishedAt ?? null;
  return {
    id: run.id,
    status: run.status,
    datasetId: run.datasetId,
    labelsId: run.labelsId,
    params: mbn,
    distill: distill !== null,
    ks: run.ks as number[],
    currentLayer: run.currentLayer,
    metrics: storedMetrics(run),
    modelHash: run.modelHash,
    error: run.error,
    createdAt: iso(run.createdAt),
    startedAt: iso(run.startedAt),
    finishedAt: iso(run.finishedAt),
    // Wall time from start to finish (or to now while it runs); null before it started.
    durationSeconds: run.startedAt ? Math.max(0, Number((((end ?? new Date()).getTime() - run.startedAt.getTime()) / 1000).toFixed(3))) : null,
  };
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
  // The last few projections, by run and embedding. The promise is cached, not its result: a page
  // asks for the JSON and the points back to back, and both must wait on the one computation. A
  // failed one is dropped, so the next request tries again.
  const cache = new Map<string, Promise<ProjectedRun>>();

  const compute = async (run: Run, ref: TTeacherRef): Promise<ProjectedRun> => {
    const [embBytes, labBytes] = await Promise.all([store.get(ref.embeddingSha256), store.get(ref.labelsSha256)]);
    const emb = decodeTeacherEmbedding(embBytes, `embedding of run ${run.id}`, ref.rows, ref.c);
    const clusters = decodeTeacherLabels(labBytes, `labels of run ${run.id}`, ref.rows);
    let truth: Int32Array | null = null;
    if (run.labelsId !== null) {
      const d = await getDataset(run.labelsId);
      truth = await loadLabels(store, d.sha256, d.name);
    }
    // Off the event loop: seconds of CPU for a large c (see projectRunInThread).
    return projectRunInThread(emb, ref.rows, ref.c, clusters, truth);
  };

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
      p = compute(run, ref);
      cache.set(key, p);
      p.catch(() => cache.get(key) === p && cache.delete(key));
      while (cache.size > 4) cache.delete(cache.keys().next().value!);
    }
    return { run, p: await p, ref };
  };

  r.get('/runs', async (req, res) => {
    const q = ZRunListQuery.parse(req.query);
    const runs = await listRuns({ limit: q.limit, ...(q.status ? { status: q.status as RunStatus } : {}) });
    const out: TRunList = { runs: runs.map(runListItem) };
    res.json(out);
  });

  r.get('/runs/:id/embedding', async (req, res) => {
    const { run, p, ref } = await projected(ZIdParams.parse(req.params).id);
    const out: TRunEmbedding = {
      runId: run.id,
      n: p.n,
      c: p.c,
      projection: { method: 'pca2 of the embedding', explained: p.explained, bounds: p.bounds },
      clusterSizes: p.clusterSizes,
      hasTruth: p.truth !== null,
      confusion: p.confusion,
      metrics: storedMetrics(run),
      artifacts: { embeddingSha256: ref.embeddingSha256, labelsSha256: ref.labelsSha256 },
      points: { url: `/v1/runs/${run.id}/embedding/points`, layout: p.truth ? 'f32 x[n], f32 y[n], i32 cluster[n], i32 truth[n]' : 'f32 x[n], f32 y[n], i32 cluster[n]' },
    };
    res.json(out);
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
