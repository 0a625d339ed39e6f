import { Prisma } from './generated/prisma/client.ts';
import { getDb } from './client.ts';
import { RegistryError } from './errors.ts';
import { assertAlias, assertModelName, toVersionRecord } from './models.ts';
import type { ModelVersionRecord, VersionStatus } from './models.ts';
import { decodeVersionToken, encodeVersionToken } from './page-token.ts';

export interface VersionSearch {
  name: string;
  /** `key` (the tag is present) or `key=value` (and equal); all must match. */
  tags?: string[];
  alias?: string;
  status?: VersionStatus;
  /** Numeric metric ranges (inclusive); a version without the metric does not match. */
  metrics?: { name: string; min?: number; max?: number }[];
  createdAfter?: Date;
  createdBefore?: Date;
  pageSize?: number;
  /** From the previous page's nextPageToken. */
  pageToken?: string;
}

export interface VersionSearchItem extends ModelVersionRecord {
  aliases: string[];
}

export interface VersionSearchPage {
  versions: VersionSearchItem[];
  /** Absent on the last page. */
  nextPageToken: string | null;
}

const METRIC = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const TAG_KEY = /^[^=\u0000]{1,128}$/;
export const MAX_PAGE_SIZE = 200;

/**
 * A model's versions matching every filter, newest first, a page at a time. Paging is by version
 * number (keyset), so versions registered while a client pages never shift or repeat a page.
 */
export async function searchVersions(q: VersionSearch): Promise<VersionSearchPage> {
  assertModelName(q.name);
  const pageSize = q.pageSize ?? 50;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) throw new RegistryError('INVALID', `page size must be 1..${MAX_PAGE_SIZE}`);
  const where: Prisma.Sql[] = [Prisma.sql`v."modelName" = ${q.name}`];
  if (q.pageToken !== undefined) where.push(Prisma.sql`v."version" < ${decodeVersionToken(q.pageToken)}`);
  if (q.status !== undefined && !['PENDING', 'READY', 'FAILED'].includes(q.status)) {
    throw new RegistryError('INVALID', `invalid status ${JSON.stringify(q.status)}: PENDING, READY or FAILED`);
  }
  if (q.status !== undefined) where.push(Prisma.sql`v."status"::text = ${q.status}`);
  for (const tag of q.tags ?? []) {
    const eq = tag.indexOf('=');
    const key = eq < 0 ? tag : tag.slice(0, eq);
    if (!TAG_KEY.test(key)) throw new RegistryError('INVALID', `invalid tag filter ${JSON.stringify(tag)}: use key or key=value`);
    // ->> gives a string value as is and any other JSON value as its text (true, 3, …).
    where.push(eq < 0 ? Prisma.sql`(v."tags" -> ${key}) IS NOT NULL` : Prisma.sql`(v."tags" ->> ${key}) = ${tag.slice(eq + 1)}`);
  }
  if (q.alias !== undefined) {
    assertAlias(q.alias);
    where.push(Prisma.sql`EXISTS (SELECT 1 FROM "ModelAlias" a WHERE a."versionId" = v."id" AND a."alias" = ${q.alias})`);
  }
  for (const m of q.metrics ?? []) {
    if (!METRIC.test(m.name)) throw new RegistryError('INVALID', `invalid metric name ${JSON.stringify(m.name)}`);
    // CASE guards the cast: a metric stored as a string or object is "not a number", not an error.
    const value = Prisma.sql`(CASE WHEN jsonb_typeof(v."metrics" -> ${m.name}) = 'number' THEN (v."metrics" ->> ${m.name})::float8 END)`;
    if (m.min === undefined && m.max === undefined) where.push(Prisma.sql`${value} IS NOT NULL`);
    if (m.min !== undefined) where.push(Prisma.sql`${value} >= ${m.min}`);
    if (m.max !== undefined) where.push(Prisma.sql`${value} <= ${m.max}`);
  }
  if (q.createdAfter !== undefined) where.push(Prisma.sql`v."createdAt" >= ${q.createdAfter}`);
  if (q.createdBefore !== undefined) where.push(Prisma.sql`v."createdAt" < ${q.createdBefore}`);
  const db = getDb();
  const ids = await db.$queryRaw<{ id: string; version: number }[]>`SELECT v."id", v."version" FROM "ModelVersion" v
    WHERE ${Prisma.join(where, ' AND ')} ORDER BY v."version" DESC LIMIT ${pageSize + 1}`;
  const page = ids.slice(0, pageSize);
  const rows = await db.modelVersion.findMany({
    where: { id: { in: page.map((r) => r.id) } },
    include: { aliases: { select: { alias: true } } },
    orderBy: { version: 'desc' },
  });
  return {
    versions: rows.map(({ aliases, ...v }) => ({ ...toVersionRecord(v), aliases: aliases.map((a) => a.alias).sort() })),
    nextPageToken: ids.length > pageSize ? encodeVersionToken(page[page.length - 1]!.version) : null,
  };
}
