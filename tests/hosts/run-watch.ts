/**
 * Follows a run through the coordinator's API from the test process (root namespace, over the
 * bridge): samples of its progress, kept so that recovery times can be read off afterwards. While
 * the coordinator or its database is down, samples simply stop; nothing here fails on that.
 */
import pg from 'pg';

export interface LayerView {
  layer: number;
  status: string;
  shardsDone: number;
  shardsTotal: number;
}

export interface RunView {
  id: string;
  status: string;
  error: string | null;
  modelHash: string | null;
  layers: LayerView[];
}

export async function getRun(baseUrl: string, id: string): Promise<RunView | undefined> {
  const res = await fetch(`${baseUrl}/v1/runs/${id}`, { signal: AbortSignal.timeout(3_000) });
  if (!res.ok) return undefined;
  return (await res.json()) as RunView;
}

async function query<R extends pg.QueryResultRow>(databaseUrl: string, sql: string, params: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 3_000 });
  await c.connect();
  try {
    return (await c.query<R>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

/** The newest run in the registry that is not in `seen` (the one the CLI just submitted). */
export async function newestRunId(databaseUrl: string, seen: Set<string>): Promise<string | undefined> {
  const rows = await query<{ id: string }>(databaseUrl, 'SELECT id FROM "Run" ORDER BY "createdAt" DESC LIMIT 5');
  return rows.map((r) => r.id).find((id) => !seen.has(id));
}

/** A Shard row as the registry keeps it (prisma/schema.prisma), with the fields a rewrite would change. */
export interface ShardRow {
  layer: number;
  index: number;
  status: string;
  outputSha256: string | null;
  attempts: number;
  workerId: string | null;
  updatedAt: Date;
}

export const shardKey = (s: { layer: number; index: number }) => `${s.layer}:${s.index}`;

/** Every shard row of the run (or only those in `status`), keyed by `layer:index`. */
export async function shardRows(databaseUrl: string, runId: string, status?: string): Promise<Map<string, ShardRow>> {
  const rows = await query<ShardRow>(
    databaseUrl,
    `SELECT "layer", "index", "status"::text AS "status", "outputSha256", "attempts", "workerId", "updatedAt" FROM "Shard" WHERE "runId" = $1${status === undefined ? '' : ' AND "status"::text = $2'}`,
    status === undefined ? [runId] : [runId, status],
  );
  return new Map(rows.map((r) => [shardKey(r), r]));
}

export interface Sample {
  t: number;
  done: number;
  run: RunView;
}

export interface RunWatch {
  last(): RunView | undefined;
  samples: Sample[];
  /** Seconds from `t` to the first sample whose shard count exceeds every count seen up to `t`. */
  recoverySeconds(t: number): number | null;
  stop(): void;
}

export function watchRun(baseUrl: string, id: string, everyMs = 250): RunWatch {
  const samples: Sample[] = [];
  let stopped = false;
  void (async () => {
    while (!stopped) {
      const run = await getRun(baseUrl, id).catch(() => undefined);
      if (run) samples.push({ t: Date.now(), done: run.layers.reduce((a, l) => a + l.shardsDone, 0), run });
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    samples,
    last: () => samples[samples.length - 1]?.run,
    recoverySeconds(t) {
      const before = Math.max(0, ...samples.filter((s) => s.t <= t).map((s) => s.done));
      const next = samples.find((s) => s.t > t && s.done > before);
      return next === undefined ? null : (next.t - t) / 1000;
    },
    stop: () => void (stopped = true),
  };
}

/** A worker's "shard done" log lines (pino JSON, LOG_LEVEL=debug): when (epoch ms) and which job (`runId:layer:index`). */
export function shardDones(output: string): { t: number; jobId: string }[] {
  const done: { t: number; jobId: string }[] = [];
  for (const line of output.split('\n')) {
    if (!line.includes('"shard done"')) continue;
    try {
      const { time, jobId } = JSON.parse(line) as { time?: number; jobId?: string };
      if (typeof time === 'number' && typeof jobId === 'string') done.push({ t: time, jobId });
    } catch {
      /* a partial line */
    }
  }
  return done;
}

/** Times (epoch ms) of a worker's "shard done" log lines. */
export function shardDoneTimes(output: string): number[] {
  return shardDones(output).map((d) => d.t);
}
