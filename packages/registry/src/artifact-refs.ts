import type { Tx } from './client.ts';

/**
 * What keeps an artifact object alive: every sha256 column of the schema, and, conservatively, any
 * sha256-shaped string inside a run's or a version's JSON (a run's summary names its teacher
 * labels and embedding, a student's archive, …). A new artifact-holding column must be added here;
 * a JSON field that carries a hash is covered without a change.
 */
const COLUMNS = `
  SELECT "sha256" AS s FROM "Dataset"
  UNION SELECT "labelsOf" FROM "Dataset" WHERE "labelsOf" IS NOT NULL
  UNION SELECT "modelSha256" FROM "Run" WHERE "modelSha256" IS NOT NULL
  UNION SELECT "modelHash" FROM "Run" WHERE "modelHash" IS NOT NULL
  UNION SELECT "inputSha256" FROM "RunLayer"
  UNION SELECT "outputSha256" FROM "RunLayer" WHERE "outputSha256" IS NOT NULL
  UNION SELECT "outputSha256" FROM "Shard" WHERE "outputSha256" IS NOT NULL
  UNION SELECT "artifactSha256" FROM "ModelVersion" WHERE "artifactSha256" IS NOT NULL
  UNION SELECT "datasetSha256" FROM "ModelVersion"
  UNION SELECT "mbnModelHash" FROM "ModelVersion"`;

const JSON_TEXT = `
  SELECT "summary"::text AS j FROM "Run" WHERE "summary" IS NOT NULL
  UNION ALL SELECT "metrics"::text FROM "Run" WHERE "metrics" IS NOT NULL
  UNION ALL SELECT "params"::text FROM "Run"
  UNION ALL SELECT "tags"::text FROM "ModelVersion"
  UNION ALL SELECT "signature"::text FROM "ModelVersion"
  UNION ALL SELECT "metrics"::text FROM "ModelVersion"
  UNION ALL SELECT "params"::text FROM "ModelVersion"`;

/** Every referenced sha256 (lowercase hex), read in one statement. */
export async function referencedArtifacts(tx: Pick<Tx, '$queryRawUnsafe'>): Promise<Set<string>> {
  const rows = await tx.$queryRawUnsafe<{ s: string }[]>(
    `${COLUMNS} UNION SELECT (regexp_matches(j, '[0-9a-f]{64}', 'g'))[1] FROM (${JSON_TEXT}) AS t`,
  );
  return new Set(rows.map((r) => r.s));
}

/** Whether a key is one of our object keys (lowercase hex sha256); anything else is never deleted. */
export function isSha256Key(key: string): boolean {
  return /^[0-9a-f]{64}$/.test(key);
}

/** sha256-shaped strings of one value (a version's JSON fields): candidates for deletion with it. */
export function hashesIn(...values: unknown[]): string[] {
  const out = new Set<string>();
  for (const v of values) {
    if (v === null || v === undefined) continue;
    const text = typeof v === 'string' ? v : JSON.stringify(v);
    for (const m of text.matchAll(/[0-9a-f]{64}/g)) out.add(m[0]);
  }
  return [...out];
}
