import { useEffect, useRef, useState } from 'preact/hooks';
import type { z } from 'zod';
import { fmtBytes, fmtDuration, fmtMetric, fmtNumber, fmtParams } from '../lib/format.ts';
import { layerRows, type Observation } from '../lib/layer-rates.ts';
import { ZRunProgressEvent, ZRunStatusEvent, ZRunView, type TRunProgress, type TRunView } from '@cmbn/api';
import { getJson, parseAnswer } from './api.tsx';
import { Projector } from './projector.tsx';
import { href } from './router.tsx';
import { StatusBadge, TERMINAL } from './runs.tsx';

type Live = TRunProgress & { at: number };

/**
 * One run: live progress from its SSE stream (the session cookie authenticates the EventSource),
 * the per-layer table, the ETA, errors, and once MBN has finished the projector.
 */
export function RunPage(props: { id: string }) {
  const [run, setRun] = useState<TRunView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [live, setLive] = useState<Live | null>(null);
  const [stream, setStream] = useState<'connecting' | 'open' | 'ended' | 'lost'>('connecting');
  const seen = useRef(new Map<number, { first: Observation; last: Observation }>());
  const [, setNow] = useState(Date.now());

  useEffect(() => {
    let alive = true;
    let pending: ReturnType<typeof setTimeout> | undefined;
    let lastLoad = 0;
    const load = () => {
      lastLoad = Date.now();
      getJson(`/v1/runs/${encodeURIComponent(props.id)}`, ZRunView).then(
        (r) => alive && (setRun(r), setError(null)),
        (e: Error) => alive && setError(e.message),
      );
    };
    // At most one reload a second however fast the shards finish.
    const reloadSoon = () => {
      if (pending) return;
      pending = setTimeout(() => {
        pending = undefined;
        load();
      }, Math.max(0, 1000 - (Date.now() - lastLoad)));
    };
    load();
    const es = new EventSource(`/v1/runs/${encodeURIComponent(props.id)}/events`);
    es.onopen = () => setStream('open');
    // Each event is parsed with the contract like any other answer; a bad one is shown, not acted on.
    const parsed = <T,>(schema: z.ZodType<T>, m: Event): T | null => {
      try {
        return parseAnswer(`event ${m.type} of run ${props.id}`, schema, JSON.parse((m as MessageEvent<string>).data));
      } catch (e) {
        if (alive) setError(e instanceof Error ? e.message : String(e));
        return null;
      }
    };
    es.addEventListener('progress', (m) => {
      const ev = parsed(ZRunProgressEvent, m);
      if (!ev) return;
      const p = ev.progress;
      const at = Date.now();
      if (p.stage === 'layer' && p.layer !== undefined && p.done !== undefined) {
        const s = seen.current.get(p.layer);
        if (!s) seen.current.set(p.layer, { first: { t: at, done: p.done }, last: { t: at, done: p.done } });
        else s.last = { t: at, done: p.done };
      }
      setLive({ ...p, at });
      reloadSoon();
    });
    es.addEventListener('status', (m) => {
      const ev = parsed(ZRunStatusEvent, m);
      if (!ev) return;
      if (TERMINAL.has(ev.status)) {
        es.close();
        setStream('ended');
      }
      load();
    });
    es.onerror = () => {
      // EventSource reconnects by itself; a closed one (401, ended run) does not.
      if (es.readyState === EventSource.CLOSED) setStream((s) => (s === 'ended' ? s : 'lost'));
    };
    const tick = setInterval(() => setNow(Date.now()), 1000);
    return () => {
      alive = false;
      es.close();
      clearTimeout(pending);
      clearInterval(tick);
    };
  }, [props.id]);

  if (error && !run) return <p class="error">{error}</p>;
  if (!run) return <p class="muted">Loading run…</p>;
  const V = Number(run.params.V ?? 0);
  // The live event is newer than the last reload of the run: the current layer's count comes from it.
  const layers = run.layers.map((l) => (live?.stage === 'layer' && live.layer === l.layer && (live.done ?? 0) > l.shardsDone ? { ...l, shardsDone: live.done! } : l));
  const rows = layerRows(layers, V, seen.current, Date.now());
  const done = TERMINAL.has(run.status);
  const hasEmbedding = run.summary?.mbnOutput !== undefined;
  const student = run.student;
  return (
    <section data-testid="run-page" data-run-id={run.id} data-status={run.status}>
      <h2>
        Run <span class="mono">{run.id}</span> <StatusBadge status={run.status} />
      </h2>
      <dl class="facts">
        <dt>params</dt>
        <dd class="mono">{fmtParams(run.params)}</dd>
        <dt>k per layer</dt>
        <dd class="mono">{run.ks.join(', ')}</dd>
        <dt>dataset</dt>
        <dd class="mono">{run.datasetId}{run.labelsId ? ` (labels ${run.labelsId})` : ''}</dd>
        <dt>MBN time</dt>
        <dd>{fmtDuration(run.mbnSeconds)}</dd>
        {run.metrics && (
          <>
            <dt>ACC / NMI / ARI</dt>
            <dd data-testid="run-metrics">
              {fmtMetric(run.metrics.acc)} / {fmtMetric(run.metrics.nmi)} / {fmtMetric(run.metrics.ari)}
            </dd>
          </>
        )}
        {run.modelHash && (
          <>
            <dt>model</dt>
            <dd class="mono">
              <a href={`/v1/runs/${run.id}/model`}>{run.modelHash.slice(0, 16)}…</a> ({fmtBytes(run.summary?.modelBytes)})
            </dd>
          </>
        )}
      </dl>
      {run.error && (
        <pre class="error" data-testid="run-error">
          {run.error}
        </pre>
      )}
      {!done && (
        <div class="progress" data-testid="live-progress" data-stage={live?.stage ?? ''} data-layer={live?.layer ?? ''} data-done={live?.done ?? ''} data-total={live?.total ?? ''}>
          <div>
            {live === null
              ? 'waiting for progress…'
              : live.stage === 'layer'
                ? `layer ${live.layer} of ${live.layers}: ${live.done}/${live.total} shards`
                : `${live.stage} (after layer ${live.layers})`}
            <span class="muted"> · ETA {run.etaSeconds === null ? '—' : fmtDuration(run.etaSeconds)} · stream {stream}</span>
          </div>
          {live?.stage === 'layer' && live.total ? (
            <div class="bar">
              <div style={{ width: `${(100 * (live.done ?? 0)) / live.total}%` }} />
            </div>
          ) : null}
        </div>
      )}
      <h3>Layers</h3>
      <table class="grid" data-testid="layers-table">
        <thead>
          <tr>
            <th>layer</th>
            <th>k</th>
            <th>status</th>
            <th>shards</th>
            <th>seconds</th>
            <th>clusterings/s</th>
            <th>shards/s</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((l) => (
            <tr key={l.layer} data-layer={l.layer} data-status={l.status}>
              <td class="num">{l.layer}</td>
              <td class="num">{l.k}</td>
              <td>{l.status}</td>
              <td class="num" data-col="shards">
                {l.shardsDone}/{l.shardsTotal}
              </td>
              <td class="num">{l.elapsed === null ? '—' : fmtNumber(l.elapsed, 2)}</td>
              <td class="num">{fmtNumber(l.clusteringsPerSecond)}</td>
              <td class="num">{fmtNumber(l.shardsPerSecond, 2)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {student && (
        <>
          <h3>Student</h3>
          <dl class="facts" data-testid="student">
            <dt>agreement with MBN</dt>
            <dd>{fmtMetric(student.agreement)}</dd>
            <dt>speedup</dt>
            <dd>{fmtNumber(student.speedup)}×</dd>
            {typeof student.name === 'string' && (
              <>
                <dt>registered</dt>
                <dd>
                  <a href={href('models', student.name)}>
                    {student.name}:{String(student.version)}
                  </a>
                </dd>
              </>
            )}
          </dl>
        </>
      )}
      {hasEmbedding && <Projector runId={run.id} />}
    </section>
  );
}
