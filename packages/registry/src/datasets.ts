import { getDb } from './client.ts';
import { RegistryError } from './errors.ts';
import type { Dataset } from './generated/prisma/client.ts';
import { bigToNumber } from './json.ts';

export interface DatasetRecord {
  id: string;
  sha256: string;
  name: string;
  format: string;
  rows: number;
  cols: number;
  dtype: string;
  bytes: number;
  /** sha256 of the dataset these labels belong to, when this is a labels file. */
  labelsOf: string | null;
  createdAt: Date;
}

export interface RegisterDatasetInput extends Pick<DatasetRecord, 'sha256' | 'name' | 'format' | 'rows' | 'cols' | 'dtype'> {
  bytes: number | bigint;
  labelsOf?: string | null;
}

function toRecord(d: Dataset): DatasetRecord {
  return { ...d, bytes: bigToNumber(d.bytes) };
}

/** Content-addressed: registering the same sha256 again returns the existing row unchanged. */
export async function registerDataset(input: RegisterDatasetInput): Promise<DatasetRecord> {
  if (!/^[0-9a-f]{64}$/.test(input.sha256)) throw new RegistryError('INVALID', 'dataset sha256 must be a sha256 hex digest');
  const db = getDb();
  // INSERT … ON CONFLICT DO NOTHING, then read: two concurrent uploads of one file both succeed.
  await db.dataset.createMany({
    data: [{ ...input, bytes: BigInt(input.bytes), labelsOf: input.labelsOf ?? null }],
    skipDuplicates: true,
  });
  return toRecord(await db.dataset.findUniqueOrThrow({ where: { sha256: input.sha256 } }));
}

/** By id or by sha256. */
export async function getDataset(idOrSha256: string): Promise<DatasetRecord> {
  const db = getDb();
  const d = /^[0-9a-f]{64}$/.test(idOrSha256)
    ? await db.dataset.findUnique({ where: { sha256: idOrSha256 } })
    : await db.dataset.findUnique({ where: { id: idOrSha256 } });
  if (d === null) throw new RegistryError('NOT_FOUND', `dataset ${idOrSha256} not found`);
  return toRecord(d);
}

export async function listDatasets(opts: { limit?: number } = {}): Promise<DatasetRecord[]> {
  const rows = await getDb().dataset.findMany({ orderBy: { createdAt: 'desc' }, take: opts.limit ?? 100 });
  return rows.map(toRecord);
}
