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

/** The newest run in the registry that is not in `seen` (the one the CLI just submitted). */
export async function newestRunId(databaseUrl: string, seen: Set<string>): Promise<string | undefined> {
  const c = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 3_000 });
  await c.connect();
  try {
    const { rows } = await c.query<{ id: string }>('SELECT id FROM "Run" ORDER BY "createdAt" DESC LIMIT 5');
    return rows.map((r) => r.id).find((id) => !seen.has(id));
  } finally {
    await c.end();
  }
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

/** Times (epoch ms) of a worker's "shard done" log lines (pino JSON, LOG_LEVEL=debug). */
export function shardDoneTimes(output: string): number[] {
  const times: number[] = [];
  for (const line of output.split('\n')) {
    if (!line.includes('"shard done"')) continue;
    try {
      const t = (JSON.parse(line) as { time?: number }).time;
      if (typeof t === 'number') times.push(t);
    } catch {
      /* a partial line */
    }
  }
  return times;
}
