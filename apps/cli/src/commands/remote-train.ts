import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { encodeNpy, loadDataset, type Dataset } from '@cmbn/data';
import { saveModel, sha256Hex, type TrainProgress } from '@cmbn/mbn';
import { createTrainProgress } from '../progress.ts';
import { printJson } from '../output.ts';
import { CliError } from '../errors.ts';
import { ApiClient } from '../api-client.ts';
import { pullRemoteStudent } from './models.ts';
import { paramsFromOptions, type TrainCliOptions } from './train.ts';
import { loadEvalSet } from '../distill-step.ts';

export type RemoteTrainOptions = TrainCliOptions & { remote: string; token?: string };

interface RunView {
  id: string;
  status: string;
  ks: number[];
  modelHash: string | null;
  metrics: Record<string, number> | null;
  mbnSeconds: number | null;
  error: string | null;
  /** The distilled student's summary (runs with `distill`). */
  student: Record<string, unknown> | null;
}

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

/** The coordinator client of `train --remote`: uploads and the run's event stream. */
class RemoteClient extends ApiClient {
  /** Uploads unless the server already has these exact bytes (content-addressed). */
  async ensureUploaded(bytes: Uint8Array, name: string, labelsFor?: string): Promise<string> {
    const sha = createHash('sha256').update(bytes).digest('hex');
    const known = await this.jsonOrUndefined<{ id: string }>(`/v1/datasets/${sha}`);
    if (known) return known.id;
    const q = new URLSearchParams({ name, ...(labelsFor ? { labelsFor } : {}) });
    const res = await this.jsonOrUndefined<{ id: string }>(`/v1/datasets?${q}`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    if (!res) throw new Error(`upload of ${name} failed: dataset ${labelsFor} not found`);
    return res.id;
  }

  /** Follows the run's SSE stream until its terminal status; false when the stream broke first. */
  async follow(runId: string, onProgress: (p: TrainProgress) => void): Promise<boolean> {
    const res = await this.request(`/v1/runs/${runId}/events`, { headers: { accept: 'text/event-stream' } });
    if (!res.body) return false;
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let cut: number;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const data = block
            .split('\n')
            .filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5).trim())
            .join('\n');
          if (!data) continue;
          const ev = JSON.parse(data) as { type: string; progress?: TrainProgress; status?: string };
          if (ev.type === 'progress' && ev.progress) onProgress(ev.progress);
          if (ev.type === 'status' && ev.status && TERMINAL.has(ev.status)) return true;
        }
      }
    } catch {
      return false;
    }
    return false;
  }
}

/** `POST /v1/runs`'s `distill` object from the CLI's student options (uploading the eval set if needed). */
async function distillRequest(client: RemoteClient, o: RemoteTrainOptions, ds: Dataset): Promise<Record<string, unknown>> {
  const ev = await loadEvalSet(o, ds);
  let evalIds: { evalDatasetId?: string; evalLabelsId?: string } = {};
  if (ev) {
    const evalDatasetId = await client.ensureUploaded(encodeNpy(ev.x), ev.name);
    const evalLabelsId = ev.labels
      ? await client.ensureUploaded(encodeNpy({ rows: ev.labels.length, cols: 1, dtype: 'int32', data: ev.labels }), `${ev.name}-labels`, evalDatasetId)
      : undefined;
    evalIds = { evalDatasetId, ...(evalLabelsId ? { evalLabelsId } : {}) };
  }
  const student: Record<string, unknown> = {};
  if (o.student) student.hidden = o.student;
  if (o.studentTarget) student.target = o.studentTarget;
  if (o.studentEpochs !== undefined) student.epochs = o.studentEpochs;
  if (o.studentTemperature !== undefined) student.temperature = o.studentTemperature;
  if (o.studentPrecision !== undefined) student.precision = o.studentPrecision;
  return { ...(o.register !== undefined ? { register: o.register } : {}), student, ...evalIds };
}

/**
 * `cmbn train --remote URL`: the same training on a coordinator's workers. The dataset is sent as
 * the .npy of exactly the matrix local training would use (builtins and --limit included), so the
 * run's modelHash equals local training's for the same params and seed.
 */
export async function runRemoteTrain(o: RemoteTrainOptions): Promise<void> {
  if (o.register !== undefined && !o.distill) throw new CliError('--register needs --distill');
  const client = new RemoteClient(o.remote, o.token ?? process.env.CMBN_API_TOKEN);
  const ds = await loadDataset(o.dataset, { labels: o.labels, limit: o.limit });
  const datasetId = await client.ensureUploaded(encodeNpy(ds.x), ds.name);
  const labelsId = ds.labels
    ? await client.ensureUploaded(encodeNpy({ rows: ds.labels.length, cols: 1, dtype: 'int32', data: ds.labels }), `${ds.name}-labels`, datasetId)
    : undefined;
  const distill = o.distill ? await distillRequest(client, o, ds) : undefined;
  const submitted = await client.json<{ id: string }>('/v1/runs', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ datasetId, labelsId, params: paramsFromOptions(o), shardSize: o.shardSize, distill }),
  });
  const runId = submitted.id;
  if (!o.json) process.stderr.write(`run ${runId} submitted to ${o.remote}\n`);

  const progress = createTrainProgress(o.progress);
  let run: RunView | undefined;
  try {
    const ended = await client.follow(runId, (p) => progress.update(p));
    // The stream can break (proxy, restart of the coordinator): fall back to polling.
    for (let delay = ended ? 0 : 500; ; delay = Math.min(delay * 2 || 500, 5_000)) {
      run = await client.jsonOrUndefined<RunView>(`/v1/runs/${runId}`);
      if (!run || TERMINAL.has(run.status)) break;
      await new Promise((r) => setTimeout(r, delay));
    }
  } finally {
    progress.stop();
  }
  if (!run) throw new Error(`run ${runId} disappeared from ${o.remote}`);
  if (run.status !== 'SUCCEEDED') throw new Error(`run ${runId} ${run.status}: ${run.error ?? 'no error recorded'}`);

  const res = await client.request(`/v1/runs/${runId}/model`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (sha256Hex(bytes) !== run.modelHash) throw new Error(`model download of run ${runId} is corrupt (sha256 differs from ${run.modelHash})`);
  const dir = o.out ?? `models/mbn-${run.modelHash.slice(0, 12)}`;
  const saved = await saveModel(dir, bytes);
  const summary: Record<string, unknown> = {
    ks: run.ks,
    mbnSeconds: Number((run.mbnSeconds ?? 0).toFixed(3)),
    modelHash: saved.modelHash,
    modelBytes: saved.modelBytes,
    model: dir,
    ...(run.metrics ?? {}),
    runId,
  };
  if (o.distill) {
    const student: Record<string, unknown> = { ...(run.student ?? {}) };
    // A registered student is pulled (and verified) next to the model, as local --distill saves it.
    if (typeof student.name === 'string' && typeof student.version === 'number') {
      const pulled = await pullRemoteStudent(client, `${student.name}:${student.version}`, join(dir, 'student'), true);
      student.dir = pulled.dir;
    }
    summary.student = student;
    if (!o.json) {
      process.stderr.write(
        `student: agreement ${String(student.agreement)} with MBN on ${String(student.evaluatedOn)}, acc ${String(student.acc)} (MBN ${String(student.mbnAcc)}), ` +
          `${String(student.speedup)}× faster` +
          (student.version ? `; registered ${String(student.name)}:${String(student.version)} → ${String(student.dir)}` : '') +
          '\n',
      );
    }
  }
  if (o.json) printJson(summary);
  else {
    const m = run.metrics;
    process.stderr.write(
      `trained MBN remotely (run ${runId}) on ${ds.x.rows} points of ${ds.name}: k = ${run.ks.join(', ')} in ${summary.mbnSeconds}s\n` +
        `model ${dir} (${(saved.modelBytes / 1e6).toFixed(1)} MB, sha256 ${saved.modelHash})\n` +
        (m ? `acc ${m.acc?.toFixed(4)}  nmi ${m.nmi?.toFixed(4)}  ari ${m.ari?.toFixed(4)}\n` : ''),
    );
  }
}
