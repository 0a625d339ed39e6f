import { createHash } from 'node:crypto';
import { Router, type Response } from 'express';
import {
  SEARCH_METRICS,
  ZAliasParams,
  ZGcBody,
  ZHistoryQuery,
  ZIdParams,
  ZModelDetailQuery,
  ZNameParams,
  ZRefParams,
  ZSetAliasBody,
  ZVersionParams,
  ZVersionSearchQuery,
  type TAliasHistory,
  type TDeletedAlias,
  type TDeletedVersion,
  type TGcJob,
  type TModelDetail,
  type TModelList,
} from '@cmbn/api';
import { ArtifactCorruptError, ArtifactNotFoundError, ArtifactQuarantinedError, type ArtifactStore } from '@cmbn/artifacts';
import {
  aliasHistory,
  deleteAlias,
  deleteVersionAndArtifacts,
  getModel,
  getVersion,
  listModels,
  parseModelRef,
  resolveModelRef,
  rollbackAlias,
  searchVersions,
  setAlias,
} from '@cmbn/registry';
import { AppError } from '../errors.ts';
import type { GcService } from '../gc-service.ts';
import { eventView, modelView, moveView, searchView, versionView } from './model-views.ts';
import { INT4_MAX, jsonBody } from './validation.ts';

/**
 * Who the request acts as: the token's name (or `anonymous` with auth off), set by the auth
 * middleware (auth.ts) as `res.locals.principal`. A route reached without it is a wiring bug,
 * refused rather than recorded under a made-up name in the alias history.
 */
const principal = (res: Response): string => {
  const p: unknown = res.locals.principal;
  if (typeof p !== 'string' || p === '') throw new AppError('INTERNAL', 'no authenticated principal on this request (the auth middleware did not run)');
  return p;
};

/**
 * The model registry (MLflow-shaped, without its gaps): registered models, their versions (searchable),
 * aliases with their history, deletion that takes the orphaned artifacts with it, and the artifact
 * sweep. Bodies are the contract's (@cmbn/api); registry errors keep their own code (errors.ts maps it).
 * Names, versions (int4) and refs are checked here first, so nothing the database cannot hold reaches it.
 */
export function modelsRouter(deps: { store: ArtifactStore; gc: GcService }): Router {
  const r = Router();

  r.get('/models', async (_req, res) => {
    const body: TModelList = { models: (await listModels()).map(modelView) };
    res.json(body);
  });

  r.get('/models/:name', async (req, res) => {
    const m = await getModel(ZNameParams.parse(req.params).name, { limit: ZModelDetailQuery.parse(req.query).versions });
    const body: TModelDetail = { ...modelView(m), versions: m.versions.map(versionView), versionCount: m.versionCount, nextPageToken: m.nextPageToken };
    res.json(body);
  });

  r.get('/models/:name/versions', async (req, res) => {
    const { name } = ZNameParams.parse(req.params);
    const q = ZVersionSearchQuery.parse(req.query);
    const metrics = SEARCH_METRICS.flatMap((m) => {
      const min = q[`min_${m}`];
      const max = q[`max_${m}`];
      return min === undefined && max === undefined ? [] : [{ name: m, ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) }];
    });
    const page = await searchVersions({
      name,
      ...(q.tag !== undefined ? { tags: Array.isArray(q.tag) ? q.tag : [q.tag] } : {}),
      ...(q.alias !== undefined ? { alias: q.alias } : {}),
      ...(q.status !== undefined ? { status: q.status } : {}),
      metrics,
      ...(q.created_after !== undefined ? { createdAfter: new Date(q.created_after) } : {}),
      ...(q.created_before !== undefined ? { createdBefore: new Date(q.created_before) } : {}),
      pageSize: q.page_size,
      ...(q.page_token !== undefined ? { pageToken: q.page_token } : {}),
    });
    res.json(searchView(page));
  });

  r.get('/models/:name/versions/:v', async (req, res) => {
    const p = ZVersionParams.parse(req.params);
    res.json(versionView(await getVersion(p.name, p.v)));
  });

  r.delete('/models/:name/versions/:v', async (req, res) => {
    const p = ZVersionParams.parse(req.params);
    const d = await deleteVersionAndArtifacts(p.name, p.v, deps.store);
    const body: TDeletedVersion = { name: d.name, version: d.version, deleted: true, orphaned: d.orphaned, artifacts: d.artifacts };
    res.json(body);
  });

  r.put('/models/:name/aliases/:alias', ...jsonBody('16kb'), async (req, res) => {
    const p = ZAliasParams.parse(req.params);
    const { version } = ZSetAliasBody.parse(req.body ?? {});
    res.json(moveView(await setAlias(p.name, p.alias, version, { principal: principal(res) })));
  });

  r.delete('/models/:name/aliases/:alias', async (req, res) => {
    const p = ZAliasParams.parse(req.params);
    const event = await deleteAlias(p.name, p.alias, { principal: principal(res) });
    const body: TDeletedAlias = { name: p.name, alias: p.alias, deleted: true, event: eventView(event) };
    res.json(body);
  });

  r.get('/models/:name/aliases/:alias/history', async (req, res) => {
    const p = ZAliasParams.parse(req.params);
    const { limit } = ZHistoryQuery.parse(req.query);
    const h = await aliasHistory(p.name, p.alias, { limit });
    const body: TAliasHistory = { name: p.name, alias: p.alias, current: h.current, events: h.events.map(eventView) };
    res.json(body);
  });

  r.post('/models/:name/aliases/:alias/rollback', async (req, res) => {
    const p = ZAliasParams.parse(req.params);
    res.json(moveView(await rollbackAlias(p.name, p.alias, { principal: principal(res) })));
  });

  r.post('/gc', ...jsonBody('16kb'), async (req, res) => {
    const b = ZGcBody.parse(req.body ?? {});
    const body: TGcJob = await deps.gc.request(b, principal(res));
    res.status(202).setHeader('Location', `/v1/gc/${body.id}`).json(body);
  });

  r.get('/gc/:id', async (req, res) => {
    const body: TGcJob = await deps.gc.get(ZIdParams.parse(req.params).id);
    res.json(body);
  });

  /**
   * The student's tar archive of NAME@ALIAS | NAME:VERSION | NAME (latest READY). The bytes are
   * read and hashed before the first byte is sent, so a tampered artifact is refused with a JSON
   * error (ARTIFACT_CORRUPT) instead of being streamed; the client checks X-Artifact-Sha256 again.
   */
  r.get('/models/:ref/artifact', async (req, res) => {
    const { ref } = ZRefParams.parse(req.params);
    const parsed = parseModelRef(ref);
    if ('version' in parsed && parsed.version > INT4_MAX) throw new AppError('BAD_REQUEST', `ref: version must be at most ${INT4_MAX}`);
    const v = await resolveModelRef(ref);
    const label = `${v.modelName}:${v.version}`;
    const sha = v.artifactSha256;
    if (sha === null) throw new AppError('MODEL_NOT_READY', `${label} has no artifact recorded`);
    let bytes: Uint8Array;
    try {
      bytes = await deps.store.get(sha);
    } catch (err) {
      if (err instanceof ArtifactQuarantinedError) throw new AppError('ARTIFACT_CORRUPT', `refusing to serve ${label}: its artifact ${sha} was found corrupt and quarantined by an earlier read`);
      if (err instanceof ArtifactCorruptError) {
        throw new AppError('ARTIFACT_CORRUPT', `refusing to serve ${label}: its stored artifact does not match the registered sha256 ${sha} (the bytes hash to ${err.actual})`);
      }
      if (err instanceof ArtifactNotFoundError) throw new AppError('ARTIFACT_CORRUPT', `refusing to serve ${label}: its artifact ${sha} is missing from the store`);
      throw err;
    }
    // Checked here too, whatever the store's get() verifies.
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== sha || (v.artifactBytes !== null && v.artifactBytes !== bytes.byteLength)) {
      throw new AppError('ARTIFACT_CORRUPT', `refusing to serve ${label}: stored artifact hashes to ${actual} (${bytes.byteLength} bytes), registered ${sha} (${v.artifactBytes} bytes)`);
    }
    res.setHeader('Content-Type', 'application/x-tar');
    res.setHeader('Content-Length', String(bytes.byteLength));
    res.setHeader('Content-Disposition', `attachment; filename="${v.modelName}-${v.version}.tar"`);
    res.setHeader('X-Artifact-Sha256', sha);
    res.setHeader('X-Model-Version', label);
    res.end(bytes);
  });

  return r;
}
