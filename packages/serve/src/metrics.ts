/**
 * Prometheus text exposition, written by hand (prom-client is not installed): a request counter by
 * route and status, a latency histogram by route, a batch-size histogram, and the served version.
 * State is a plain JSON snapshot so that `--workers N` can sum the snapshots of every worker
 * process into one scrape (see cluster.ts).
 */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
export const BATCH_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536];

export interface HistogramState {
  /** Non-cumulative counts per bucket, plus one for +Inf at the end. */
  counts: number[];
  sum: number;
  count: number;
}

export interface MetricsSnapshot {
  requests: Record<string, number>; // key: `${route}\u0000${status}`
  latency: Record<string, HistogramState>; // key: route
  batch: HistogramState;
  points: number;
  swaps: number;
  served: { name: string; version: string } | null;
}

const emptyHistogram = (buckets: number[]): HistogramState => ({ counts: new Array<number>(buckets.length + 1).fill(0), sum: 0, count: 0 });

function observe(h: HistogramState, buckets: number[], v: number): void {
  let i = 0;
  while (i < buckets.length && v > buckets[i]!) i++;
  h.counts[i]!++;
  h.sum += v;
  h.count++;
}

export class ServeMetrics {
  private s: MetricsSnapshot = { requests: {}, latency: {}, batch: emptyHistogram(BATCH_BUCKETS), points: 0, swaps: 0, served: null };

  request(route: string, status: number, seconds: number): void {
    const key = `${route}\u0000${status}`;
    this.s.requests[key] = (this.s.requests[key] ?? 0) + 1;
    observe((this.s.latency[route] ??= emptyHistogram(LATENCY_BUCKETS)), LATENCY_BUCKETS, seconds);
  }

  batch(rows: number): void {
    observe(this.s.batch, BATCH_BUCKETS, rows);
    this.s.points += rows;
  }

  served(name: string, version: string, swapped: boolean): void {
    this.s.served = { name, version };
    if (swapped) this.s.swaps++;
  }

  snapshot(): MetricsSnapshot {
    return structuredClone(this.s);
  }
}

function addHistogram(a: HistogramState, b: HistogramState): HistogramState {
  return { counts: a.counts.map((c, i) => c + (b.counts[i] ?? 0)), sum: a.sum + b.sum, count: a.count + b.count };
}

/** Sums the snapshots of several processes (counters and histograms add; `served` is the first one's). */
export function mergeSnapshots(all: MetricsSnapshot[]): MetricsSnapshot {
  const out: MetricsSnapshot = { requests: {}, latency: {}, batch: emptyHistogram(BATCH_BUCKETS), points: 0, swaps: 0, served: all[0]?.served ?? null };
  for (const s of all) {
    for (const [k, v] of Object.entries(s.requests)) out.requests[k] = (out.requests[k] ?? 0) + v;
    for (const [k, h] of Object.entries(s.latency)) out.latency[k] = out.latency[k] ? addHistogram(out.latency[k], h) : h;
    out.batch = addHistogram(out.batch, s.batch);
    out.points += s.points;
    out.swaps += s.swaps;
  }
  return out;
}

const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

function histogramLines(name: string, labels: string, buckets: number[], h: HistogramState): string[] {
  const lines: string[] = [];
  let cum = 0;
  buckets.forEach((b, i) => {
    cum += h.counts[i]!;
    lines.push(`${name}_bucket{${labels}${labels ? ',' : ''}le="${b}"} ${cum}`);
  });
  cum += h.counts[buckets.length]!;
  lines.push(`${name}_bucket{${labels}${labels ? ',' : ''}le="+Inf"} ${cum}`);
  const braces = labels ? `{${labels}}` : '';
  lines.push(`${name}_sum${braces} ${h.sum}`, `${name}_count${braces} ${h.count}`);
  return lines;
}

export function renderMetrics(s: MetricsSnapshot, workers = 1): string {
  const lines = [
    '# HELP cmbn_serve_requests_total HTTP requests answered, by route and status.',
    '# TYPE cmbn_serve_requests_total counter',
  ];
  for (const [k, v] of Object.entries(s.requests).sort()) {
    const [route, status] = k.split('\u0000') as [string, string];
    lines.push(`cmbn_serve_requests_total{route="${esc(route)}",status="${status}"} ${v}`);
  }
  lines.push('# HELP cmbn_serve_request_duration_seconds Time from request start to the last byte of the answer.', '# TYPE cmbn_serve_request_duration_seconds histogram');
  for (const [route, h] of Object.entries(s.latency).sort()) lines.push(...histogramLines('cmbn_serve_request_duration_seconds', `route="${esc(route)}"`, LATENCY_BUCKETS, h));
  lines.push('# HELP cmbn_serve_batch_size Rows per accepted /invocations request.', '# TYPE cmbn_serve_batch_size histogram');
  lines.push(...histogramLines('cmbn_serve_batch_size', '', BATCH_BUCKETS, s.batch));
  lines.push('# HELP cmbn_serve_points_total Rows predicted.', '# TYPE cmbn_serve_points_total counter', `cmbn_serve_points_total ${s.points}`);
  lines.push('# HELP cmbn_serve_model_swaps_total Model versions swapped in after the first.', '# TYPE cmbn_serve_model_swaps_total counter', `cmbn_serve_model_swaps_total ${s.swaps}`);
  lines.push('# HELP cmbn_serve_workers Server processes behind the port.', '# TYPE cmbn_serve_workers gauge', `cmbn_serve_workers ${workers}`);
  if (s.served) {
    lines.push('# HELP cmbn_serve_model_info The model version served (value 1).', '# TYPE cmbn_serve_model_info gauge');
    lines.push(`cmbn_serve_model_info{name="${esc(s.served.name)}",version="${esc(s.served.version)}"} 1`);
  }
  return `${lines.join('\n')}\n`;
}
