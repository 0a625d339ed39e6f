import { createHash } from 'node:crypto';
import type { Request } from 'express';
import { Router } from 'express';
import { ZIdParams, ZUploadQuery, type TDataset } from '@cmbn/api';
import type { ArtifactStore } from '@cmbn/artifacts';
import { parseLabels, parseMatrix } from '@cmbn/data';
import { RegistryError, getDataset, registerDataset, type DatasetRecord } from '@cmbn/registry';
import { AppError } from '../errors.ts';

/** The fields the API shows of a dataset (@cmbn/api's Dataset). */
export function datasetView(d: DatasetRecord): TDataset {
  return { id: d.id, sha256: d.sha256, name: d.name, format: d.format, rows: d.rows, cols: d.cols, dtype: d.dtype, bytes: d.bytes, labelsOf: d.labelsOf };
}

function sniffFormat(b: Uint8Array): 'npy' | 'idx' | 'csv' {
  if (b[0] === 0x93 && String.fromCharCode(...b.subarray(1, 6)) === 'NUMPY') return 'npy';
  if (b[0] === 0 && b[1] === 0 && b[2] !== undefined && b[2] >= 0x08 && b[2] <= 0x0e) return 'idx';
  return 'csv';
}

/**
 * Reads the whole body, refusing more than `max` bytes. Everything is validated in memory before
 * anything is stored, so a rejected upload leaves nothing behind. A too-large body is still
 * drained (up to a bound) so that the client reads the 413 instead of a reset connection.
 */
async function readBody(req: Request, max: number): Promise<Uint8Array> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  const chunks: Buffer[] = [];
  let total = 0;
  let tooLarge = declared > max;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > max) tooLarge = true;
    if (tooLarge) {
      chunks.length = 0;
      if (total > max + 64 * 1024 * 1024) {
        req.destroy();
        break;
      }
      continue;
    }
    chunks.push(chunk);
  }
  if (tooLarge) throw new AppError('PAYLOAD_TOO_LARGE', `upload exceeds the limit of ${max} bytes (CMBN_MAX_UPLOAD_BYTES)`);
  return Buffer.concat(chunks, total);
}

export function datasetsRouter(deps: { store: ArtifactStore; maxUploadBytes: number }): Router {
  const r = Router();

  r.post('/datasets', async (req, res) => {
    const q = ZUploadQuery.parse(req.query);
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/octet-stream') {
      req.resume();
      throw new AppError('UNSUPPORTED_MEDIA_TYPE', `send the raw file bytes with Content-Type: application/octet-stream (got ${type || 'none'})`);
    }
    const bytes = await readBody(req, deps.maxUploadBytes);
    const owner = q.labelsFor === undefined ? undefined : await getDataset(q.labelsFor);
    if (bytes.length === 0) throw new AppError('BAD_DATA', `${q.name}: empty upload`);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const existing = await getDataset(sha256).catch((e: unknown) => {
      if (e instanceof RegistryError && e.code === 'NOT_FOUND') return undefined;
      throw e;
    });
    if (existing && (existing.labelsOf ?? undefined) === owner?.sha256) {
      res.status(200).json(datasetView(existing));
      return;
    }
    if (existing) throw new AppError('CONFLICT', `these bytes are already stored as ${existing.labelsOf ? 'labels' : 'a dataset'} (${existing.id})`);
    const format = sniffFormat(bytes);
    let record;
    if (owner) {
      if (owner.labelsOf !== null) throw new AppError('BAD_REQUEST', `${q.labelsFor} is itself a labels file`);
      const labels = parseLabels(bytes, q.name);
      if (labels.length !== owner.rows) {
        throw new AppError('BAD_DATA', `${q.name} has ${labels.length} labels but dataset ${owner.id} has ${owner.rows} rows`);
      }
      await deps.store.put(bytes);
      record = await registerDataset({ sha256, name: q.name, format, rows: labels.length, cols: 1, dtype: 'int32', bytes: bytes.length, labelsOf: owner.sha256 });
    } else {
      const m = parseMatrix(bytes, q.name);
      await deps.store.put(bytes);
      record = await registerDataset({ sha256, name: q.name, format, rows: m.rows, cols: m.cols, dtype: m.dtype, bytes: bytes.length });
    }
    res.status(201).json(datasetView(record));
  });

  r.get('/datasets/:id', async (req, res) => {
    res.json(datasetView(await getDataset(ZIdParams.parse(req.params).id)));
  });

  return r;
}
