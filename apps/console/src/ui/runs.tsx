import { fmtDuration, fmtMetric, fmtParams, shortId } from '../lib/format.ts';
import { ZRunList } from '@cmbn/api';
import { getJson } from './api.tsx';
import { href } from './router.tsx';
import { usePoll } from './use-poll.tsx';

export const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

export function StatusBadge(props: { status: string }) {
  return <span class={`status status-${props.status.toLowerCase()}`}>{props.status}</span>;
}

/** Every run, newest first: status, params, duration, metrics. Re-read every 3 s, so new runs and status changes appear. */
export function RunsPage() {
  const { value, error } = usePoll(
    () => getJson('/v1/runs?limit=200', ZRunList),
    3000,
    () => true,
    [],
  );
  if (error && !value) return <p class="error">{error.message}</p>;
  if (!value) return <p class="muted">Loading runs…</p>;
  if (value.runs.length === 0) return <p class="muted">No runs yet. Start one with <code>cmbn train --remote URL …</code> or <code>POST /v1/runs</code>.</p>;
  return (
    <section>
      <h2>Runs</h2>
      <table class="grid" data-testid="runs-table">
        <thead>
          <tr>
            <th>run</th>
            <th>status</th>
            <th>params</th>
            <th>layers</th>
            <th>duration</th>
            <th>ACC</th>
            <th>NMI</th>
            <th>ARI</th>
            <th>created</th>
          </tr>
        </thead>
        <tbody>
          {value.runs.map((r) => (
            <tr key={r.id} data-run-id={r.id} data-status={r.status}>
              <td>
                <a href={href('runs', r.id)}>{shortId(r.id)}</a>
                {r.distill && <span class="tag">student</span>}
              </td>
              <td>
                <StatusBadge status={r.status} />
              </td>
              <td class="mono">{fmtParams(r.params)}</td>
              <td class="num">{TERMINAL.has(r.status) ? r.ks.length : `${r.currentLayer}/${r.ks.length}`}</td>
              <td class="num" data-col="duration">{fmtDuration(r.durationSeconds)}</td>
              <td class="num" data-col="acc">{fmtMetric(r.metrics?.acc)}</td>
              <td class="num" data-col="nmi">{fmtMetric(r.metrics?.nmi)}</td>
              <td class="num" data-col="ari">{fmtMetric(r.metrics?.ari)}</td>
              <td>{new Date(r.createdAt).toLocaleString()}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
