import { Router } from 'express';
import { z } from 'zod';
import { ZIdParams, ZSubmitRunBody, iso, type TCancelledRun, type TRunView, type TSubmittedRun } from '@cmbn/api';
import { ArtifactCorruptError, ArtifactNotFoundError, type ArtifactStore } from '@cmbn/artifacts';
import { getRun, getRunProgress, type Run } from '@cmbn/registry';
import { storedMetrics } from '../console-api.ts';
import { ZDistillRequest, splitRunParams } from '../distill-stage.ts';
import { AppError } from '../errors.ts';
import type { Orchestrator } from '../orchestrator.ts';
import type { ProgressBus, RunEvent } from '../progress-bus.ts';
import { sendStream } from './download.ts';
import { jsonBody } from './validation.ts';

const ZDistillField = z.object({ distill: ZDistillRequest });

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

export function runsRouter(deps: { orchestrator: Orchestrator; store: ArtifactStore; bus: ProgressBus }): Router {
  const r = Router();
  const { orchestrator, store, bus } = deps;

  r.post('/runs', ...jsonBody('1mb'), async (req, res) => {
    const body = ZSubmitRunBody.parse(req.body ?? {});
    // The contract carries the distill request's outer shape; its student part is the job catalog's (ZDistillRequest).
    // (Parsed under its key so that a refusal names `distill.student.…`.)
    const distill = body.distill === undefined ? undefined : ZDistillField.parse({ distill: body.distill }).distill;
    const { run, warnings } = await orchestrator.submitRun({ ...body, ...(distill !== undefined ? { distill } : {}) });
    const out: TSubmittedRun = { id: run.id, status: run.status, ks: run.ks as number[], warnings };
    res.status(201).json(out);
  });

  r.get('/runs/:id', async (req, res) => {
    const { run, layers } = await getRunProgress(ZIdParams.parse(req.params).id);
    const etaSeconds = await orchestrator.etaSeconds(run, layers);
    const { mbn, distill } = splitRunParams(run.params);
    const summary = run.summary as { student?: Record<string, unknown> } | null;
    const view: TRunView = {
      id: run.id,
      status: run.status,
      datasetId: run.datasetId,
      labelsId: run.labelsId,
      params: mbn,
      distill,
      ks: run.ks as number[],
      // null: each layer's shards are sized from its estimated cost.
      shardSize: run.shardSize,
      currentLayer: run.currentLayer,
      layers: layers.map((l) => ({ layer: l.layer, k: l.k, status: l.status, shardsDone: l.shardsDone, shardsTotal: l.shardsTotal, shards: l.shards, seconds: l.seconds })),
      etaSeconds: etaSeconds === null ? null : Number(etaSeconds.toFixed(1)),
      modelHash: run.modelHash,
      metrics: storedMetrics(run),
      summary,
      // The distilled student (the CLI's `student` summary object), once the run succeeded.
      student: summary?.student ?? null,
      mbnSeconds: run.mbnSeconds,
      error: run.error,
      createdAt: iso(run.createdAt),
      startedAt: iso(run.startedAt),
      finishedAt: iso(run.finishedAt),
    };
    res.json(view);
  });

  r.post('/runs/:id/cancel', async (req, res) => {
    const run = await orchestrator.cancelRun(ZIdParams.parse(req.params).id);
    const out: TCancelledRun = { id: run.id, status: run.status };
    res.json(out);
  });

  r.get('/runs/:id/model', async (req, res) => {
    const run = await getRun(ZIdParams.parse(req.params).id);
    if (!run.modelSha256) throw new AppError('MODEL_NOT_READY', `run ${run.id} is ${run.status} and has no model yet`);
    const headers: Record<string, string> = {
      'Content-Type': 'application/octet-stream',
      'Content-Disposition': 'attachment; filename="model.cmbn"',
      'X-Model-Hash': run.modelHash ?? run.modelSha256,
    };
    const bytes = (run.summary as { modelBytes?: number } | null)?.modelBytes;
    if (bytes !== undefined) headers['Content-Length'] = String(bytes);
    try {
      // The store verifies while streaming (see sendStream): a corrupt model is never served whole.
      await sendStream(res, await store.createReadStream(run.modelSha256), headers);
    } catch (err) {
      if (res.headersSent) throw err;
      if (err instanceof ArtifactCorruptError) throw new AppError('ARTIFACT_CORRUPT', `refusing to serve the model of run ${run.id}: its stored bytes do not match sha256 ${run.modelSha256}`);
      if (err instanceof ArtifactNotFoundError) throw new AppError('ARTIFACT_CORRUPT', `the model of run ${run.id} (${run.modelSha256}) is missing from the store (lost, or quarantined as corrupt)`);
      throw err;
    }
  });

  /**
   * Server-Sent Events: `progress` (the local trainer's TrainProgress shape) and `status`; the
   * stream starts with a snapshot and ends after the terminal status.
   */
  r.get('/runs/:id/events', async (req, res) => {
    const runId = ZIdParams.parse(req.params).id;
    const snapshot = await getRunProgress(runId);
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    const send = (ev: RunEvent) => res.write(`event: ${ev.type}\ndata: ${JSON.stringify(ev)}\n\n`);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      unsubscribe();
      clearInterval(ping);
      res.end();
    };
    const unsubscribe = bus.subscribe(runId, (ev) => {
      send(ev);
      if (ev.type === 'status' && TERMINAL.has(ev.status)) end();
    });
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    req.on('close', end);
    const run: Run = snapshot.run as Run;
    const layer = snapshot.layers.find((l) => l.layer === run.currentLayer);
    const ks = run.ks as number[];
    if (layer && !TERMINAL.has(run.status)) {
      send({ type: 'progress', progress: { stage: 'layer', layer: layer.layer, layers: ks.length, k: layer.k, done: layer.shardsDone, total: layer.shardsTotal } });
    }
    // Re-read after subscribing so that a run ending in between is not missed.
    const now = await getRun(run.id);
    send({ type: 'status', status: now.status, error: now.error, modelHash: now.modelHash });
    if (TERMINAL.has(now.status)) end();
  });

  return r;
}
