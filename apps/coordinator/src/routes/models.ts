import { createHash } from 'node:crypto';
import { Router, json } from 'express';
import { z } from 'zod';
import { ArtifactCorruptError, ArtifactNotFoundError, type ArtifactStore } from '@cmbn/artifacts';
import { deleteVersion, getModel, getVersion, listModels, resolveModelRef, setAlias } from '@cmbn/registry';
import { AppError } from '../errors.ts';

const ZName = z.string().min(1).max(128);
const ZVersion = z.coerce.number().int().min(1);
const ZNameParams = z.object({ name: ZName });
const ZVersionParams = z.object({ name: ZName, v: ZVersion });
const ZAliasParams = z.object({ name: ZName, alias: z.string().min(1).max(64) });
const ZAliasBody = z.object({ version: z.number().int().min(1) }).strict();
const ZRefParams = z.object({ ref: z.string().min(1).max(200) });

/**
 * The model registry (MLflow-shaped): registered models, their versions and aliases, and the
 * student archives. Registry errors keep their own code and status (NOT_FOUND 404, ALIAS_IN_USE /
 * IMMUTABLE / CONFLICT 409, INVALID 400).
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

  r.put('/models/:name/aliases/:alias', json({ limit: '16kb' }), async (req, res) => {
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
