import { createHash } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import { ArtifactCorruptError, ArtifactNotFoundError, type ArtifactStore } from '@cmbn/artifacts';
import { deleteVersion, getModel, getVersion, listModels, parseModelRef, resolveModelRef, setAlias } from '@cmbn/registry';
import { AppError } from '../errors.ts';
import { INT4_MAX, ZName, ZVersionNumber, ZVersionParam, jsonBody } from './validation.ts';

const ZModelName = ZName(128);
const ZNameParams = z.object({ name: ZModelName });
const ZVersionParams = z.object({ name: ZModelName, v: ZVersionParam });
const ZAliasParams = z.object({ name: ZModelName, alias: ZName(64) });
const ZAliasBody = z.object({ version: ZVersionNumber }).strict();
const ZRefParams = z.object({ ref: ZName(200) });

/**
 * The model registry (MLflow-shaped): registered models, their versions and aliases, and the
 * student archives. Registry errors keep their own code (errors.ts maps it: NOT_FOUND 404,
 * ALIAS_IN_USE / IMMUTABLE / CONFLICT 409, INVALID 400). Names, versions (int4) and refs are
 * checked here first, so nothing the database cannot hold reaches it.
 */
export function modelsRouter(deps: { store: ArtifactStore }): Router {
  const r = Router();

  r.get('/models', async (_req, res) => {
    res.json({ models: await listModels() });
  });

  r.get('/models/:name', async (req, res) => {
    res.json(await getModel(ZNameParams.parse(req.params).name));
  });

  r.get('/models/:name/versions/:v', async (req, res) => {
    const p = ZVersionParams.parse(req.params);
    res.json(await getVersion(p.name, p.v));
  });

  r.put('/models/:name/aliases/:alias', ...jsonBody('16kb'), async (req, res) => {
    const p = ZAliasParams.parse(req.params);
    const { version } = ZAliasBody.parse(req.body ?? {});
    const v = await setAlias(p.name, p.alias, version);
    res.json({ name: p.name, alias: p.alias, version: v.version });
  });

  r.delete('/models/:name/versions/:v', async (req, res) => {
    const p = ZVersionParams.parse(req.params);
    await deleteVersion(p.name, p.v);
    res.json({ name: p.name, version: p.v, deleted: true });
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
