import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { encodeNpy, loadDataset, type Dataset } from '@cmbn/data';
import { saveModel, sha256Hex } from '@cmbn/mbn';
import { createTrainProgress } from '../progress.ts';
import { printJson } from '../output.ts';
import { CliError } from '../errors.ts';
import { ApiClient, ApiError } from '../api-client.ts';
import { DEFAULT_RECONNECT_TIMEOUT_S, RunFollower } from './follow-run.ts';
import { MLP } from '@cmbn/distill';
import { parseWith, ZStudentSummary, type TStudentSummary } from '@cmbn/pipeline';
// The contract's shapes: ApiClient parses every answer of a known route with its schema.
import type { TRunView, TSubmittedRun } from '@cmbn/api';
import { pullRemoteStudent } from './models.ts';
import { paramsFromOptions, type TrainCliOptions } from './train.ts';
import { loadEvalSet, studentSpecForData, studentSpecFromOptions, type DistillCliOptions } from '../distill-step.ts';
// Type only (erased): the request's shape is the distill job's; the coordinator validates it (400).
import type { TStudentRequest } from '@cmbn/jobs';

export type RemoteTrainOptions = TrainCliOptions & {
  remote: string;
  token?: string;
  /** Seconds the coordinator may stay unreachable while the run is followed (--reconnect-timeout, else $CMBN_RECONNECT_TIMEOUT, else 300). */
  reconnectTimeout?: number;
};

function reconnectTimeoutSeconds(o: RemoteTrainOptions): number {
  if (o.reconnectTimeout !== undefined) return o.reconnectTimeout;
  const env = process.env.CMBN_RECONNECT_TIMEOUT;
  if (env === undefined || env === '') return DEFAULT_RECONNECT_TIMEOUT_S;
  const n = Number(env);
  if (!Number.isInteger(n) || n < 0) throw new CliError(`CMBN_RECONNECT_TIMEOUT must be a whole number of seconds, got "${env}"`);
  return n;
}

/** The coordinator client of `train --remote`: uploads (following the run is RunFollower's). */
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
  return { ...(o.register !== undefined ? { register: o.register } : {}), student: studentRequestFromOptions(o), ...evalIds };
}

/**
 * Each student option of `cmbn train` (addDistillOptions) and the distill job's field it sets. One
 * table, so that a flag cannot be dropped on the way to a remote job again (--student-augment was):
 * remote-train.test.ts fails when an option of addDistillOptions has no entry here.
 */
export const STUDENT_OPTION_FIELDS = {
  student: 'hidden',
  // Both set the one `architecture` field (the kind's defaults filled in by the spec); --student-conv is
  // the deprecated spelling of --student-arch conv:F,K,S.
  studentArch: 'architecture',
  studentConv: 'architecture',
  studentTarget: 'target',
  studentEpochs: 'epochs',
  studentTemperature: 'temperature',
  studentPrecision: 'precision',
  studentAugment: 'augment',
  studentTrainer: 'trainer',
} as const satisfies Partial<Record<keyof DistillCliOptions, keyof TStudentRequest>>;

/** The job's student request (the coordinator checks it against ZStudentRequest) from the CLI's options. */
export function studentRequestFromOptions(o: Partial<DistillCliOptions>): TStudentRequest {
  // The CLI's own checks first (widths ≥ 1, conv fields …), so a bad spec is the same CLI error locally and remotely.
  const spec = studentSpecFromOptions(o);
  const req: Record<string, unknown> = {};
  for (const [option, field] of Object.entries(STUDENT_OPTION_FIELDS)) {
    const v = o[option as keyof DistillCliOptions];
    if (v === undefined) continue;
    // The architecture is the one the local spec reads from the two flags, so both paths train the same student.
    req[field] = field === 'architecture' ? (spec.architecture ?? MLP) : v;
  }
  return req as TStudentRequest;
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
  // A student that cannot read these rows (conv on non-square ones) is refused before anything is uploaded.
  if (o.distill) studentSpecForData(o, ds.x.cols);
  const datasetId = await client.ensureUploaded(encodeNpy(ds.x), ds.name);
  const labelsId = ds.labels
    ? await client.ensureUploaded(encodeNpy({ rows: ds.labels.length, cols: 1, dtype: 'int32', data: ds.labels }), `${ds.name}-labels`, datasetId)
    : undefined;
  const distill = o.distill ? await distillRequest(client, o, ds) : undefined;
  const submitted = await client.json<TSubmittedRun>('/v1/runs', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ datasetId, labelsId, params: paramsFromOptions(o), shardSize: o.shardSize, distill }),
  });
  const runId = submitted.id;
  // The coordinator's warnings (the small-V one, from @cmbn/mbn's smallVWarning), printed as local training prints them.
  for (const w of submitted.warnings) process.stderr.write(`cmbn: warning: ${w}\n`);
  if (!o.json) process.stderr.write(`run ${runId} submitted to ${o.remote}\n`);

  const progress = createTrainProgress(o.progress);
  const follower = new RunFollower(client, runId, {
    reconnectTimeoutMs: reconnectTimeoutSeconds(o) * 1000,
    onProgress: (p) => progress.update(p),
    notice: (line) => {
      progress.stop(); // a bar redrawn over the line would hide it; the next progress event starts a new one
      process.stderr.write(`cmbn: ${line}\n`);
    },
  });
  let run: TRunView;
  try {
    // The stream can break (proxy, restart of the coordinator): the follower reconnects.
    run = await follower.untilTerminal<TRunView>();
  } finally {
    progress.stop();
  }
  if (run.status !== 'SUCCEEDED') throw new Error(`run ${runId} ${run.status}: ${run.error ?? 'no error recorded'}`);

  const modelHash = run.modelHash;
  if (!modelHash) throw new Error(`run ${runId} SUCCEEDED without a modelHash`);
  // A download cut off by a restart is retried; one that arrives whole but hashes wrong is not.
  const bytes = await follower.retrying('the model download', async () => {
    const res = await client.request(`/v1/runs/${runId}/model`);
    const b = new Uint8Array(await res.arrayBuffer());
    if (sha256Hex(b) !== modelHash) throw new ApiError(`model download of run ${runId} is corrupt (sha256 differs from ${modelHash})`, 200, 'CORRUPT_DOWNLOAD');
    return b;
  });
  const dir = o.out ?? `models/mbn-${modelHash.slice(0, 12)}`;
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
    // The reader of the summary the worker wrote with the same schema (ZStudentSummary).
    const student: TStudentSummary = parseWith(ZStudentSummary, run.student, `run ${runId}'s student summary`);
    // A registered student is pulled (and verified) next to the model, as local --distill saves it.
    if (student.name !== null && student.version !== null) {
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
        (m ? `acc ${m.acc.toFixed(4)}  nmi ${m.nmi.toFixed(4)}  ari ${m.ari.toFixed(4)}\n` : ''),
    );
  }
}
