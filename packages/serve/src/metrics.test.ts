import { describe, expect, it } from 'vitest';
import { ServeMetrics, mergeSnapshots, renderMetrics } from './metrics.ts';

describe('metrics', () => {
  it('renders cumulative histograms and sums the snapshots of several processes', () => {
    const a = new ServeMetrics();
    a.request('/invocations', 200, 0.0007);
    a.request('/invocations', 200, 0.02);
    a.request('/invocations', 400, 20);
    a.batch(1);
    a.batch(256);
    a.served('digits', '2', false);
    const b = new ServeMetrics();
    b.request('/invocations', 200, 0.0001);
    b.batch(300);
    const text = renderMetrics(mergeSnapshots([a.snapshot(), b.snapshot()]), 2);
    expect(text).toContain('cmbn_serve_requests_total{route="/invocations",status="200"} 3\n');
    expect(text).toContain('cmbn_serve_requests_total{route="/invocations",status="400"} 1\n');
    expect(text).toContain('cmbn_serve_request_duration_seconds_bucket{route="/invocations",le="0.0005"} 1\n');
    expect(text).toContain('cmbn_serve_request_duration_seconds_bucket{route="/invocations",le="0.001"} 2\n');
    expect(text).toContain('cmbn_serve_request_duration_seconds_bucket{route="/invocations",le="10"} 3\n');
    expect(text).toContain('cmbn_serve_request_duration_seconds_bucket{route="/invocations",le="+Inf"} 4\n');
    expect(text).toContain('cmbn_serve_request_duration_seconds_count{route="/invocations"} 4\n');
    expect(text).toContain('cmbn_serve_batch_size_bucket{le="1"} 1\n');
    expect(text).toContain('cmbn_serve_batch_size_bucket{le="256"} 2\n');
    expect(text).toContain('cmbn_serve_batch_size_bucket{le="1024"} 3\n');
    expect(text).toContain('cmbn_serve_points_total 557\n');
    expect(text).toContain('cmbn_serve_workers 2\n');
    expect(text).toContain('cmbn_serve_model_info{name="digits",version="2"} 1\n');
  });
});
