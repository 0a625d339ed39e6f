import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { fmtMetric } from '../lib/format.ts';
import { colourWords, decodePoints, fitView, rasterize, type Points, type View } from '../lib/points.ts';
import { ZRunEmbedding, type TRunEmbedding } from '@cmbn/api';
import { getBytes, getJson } from './api.tsx';

const W = 800;
const H = 560;
const BACKGROUND = 0xffffffff;

/**
 * The embedding projector: a canvas scatter of the run's 2-D projection, coloured by MBN's cluster
 * or by the true label, with zoom (wheel), pan (drag), reset (double-click) and a legend that hides
 * labels; and the confusion matrix against the true labels. Each frame rasterizes every point into
 * one pixel buffer (lib/points.ts), redrawn only when something changed, at most once per frame.
 */
export function Projector(props: { runId: string }) {
  const [meta, setMeta] = useState<TRunEmbedding | null>(null);
  const [points, setPoints] = useState<Points | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [mode, setMode] = useState<'cluster' | 'truth'>('cluster');
  const [hidden, setHidden] = useState<Set<number>>(new Set());
  const canvas = useRef<HTMLCanvasElement>(null);
  const view = useRef<View | null>(null);
  const frame = useRef(0);
  const image = useRef<ImageData | null>(null);
  const [stats, setStats] = useState({ drawn: 0, ms: 0 });

  useEffect(() => {
    let alive = true;
    (async () => {
      const m = await getJson(`/v1/runs/${encodeURIComponent(props.runId)}/embedding`, ZRunEmbedding);
      const buf = await getBytes(m.points.url);
      if (!alive) return;
      setMeta(m);
      setPoints(decodePoints(buf, m.n));
      if (m.hasTruth) setMode('truth');
    })().catch((e: Error) => alive && setError(e.message));
    return () => {
      alive = false;
    };
  }, [props.runId]);

  const labels = points ? (mode === 'truth' && points.truth ? points.truth : points.cluster) : null;
  const colours = useMemo(() => (labels ? colourWords(labels) : null), [labels]);
  const visible = useMemo(() => {
    if (!labels || hidden.size === 0) return undefined;
    const v = new Uint8Array(labels.length);
    for (let i = 0; i < labels.length; i++) v[i] = hidden.has(labels[i]!) ? 0 : 1;
    return v;
  }, [labels, hidden]);

  const draw = () => {
    cancelAnimationFrame(frame.current);
    frame.current = requestAnimationFrame(() => {
      const c = canvas.current;
      if (!c || !points || !colours) return;
      const ctx = c.getContext('2d')!;
      view.current ??= fitView(points, W, H);
      const t0 = performance.now();
      // One pixel buffer for the projector's lifetime: a new 1.8 MB ImageData per frame would feed the GC.
      image.current ??= ctx.createImageData(W, H);
      const img = image.current;
      const drawn = rasterize(points, colours.words, view.current, W, H, new Uint32Array(img.data.buffer), BACKGROUND, points.n > 30_000 ? 1 : 2, visible);
      ctx.putImageData(img, 0, 0);
      const ms = performance.now() - t0;
      setStats({ drawn, ms });
    });
  };
  useEffect(draw, [points, colours, visible]);

  useEffect(() => {
    const c = canvas.current;
    if (!c || !points) return;
    let drag: { x: number; y: number } | null = null;
    const onWheel = (e: WheelEvent) => {
      e.preventDefault();
      const v = view.current!;
      const r = c.getBoundingClientRect();
      // Zoom about the cursor: the data point under it stays under it.
      const mx = ((e.clientX - r.left) * W) / r.width - W / 2;
      const my = H / 2 - ((e.clientY - r.top) * H) / r.height;
      const f = Math.exp(-e.deltaY * 0.0015);
      const dx = mx / v.scale;
      const dy = my / v.scale;
      view.current = { cx: v.cx + dx - dx / f, cy: v.cy + dy - dy / f, scale: v.scale * f };
      draw();
    };
    const onDown = (e: MouseEvent) => (drag = { x: e.clientX, y: e.clientY });
    const onMove = (e: MouseEvent) => {
      if (!drag) return;
      const v = view.current!;
      const r = c.getBoundingClientRect();
      view.current = { ...v, cx: v.cx - ((e.clientX - drag.x) * W) / r.width / v.scale, cy: v.cy + ((e.clientY - drag.y) * H) / r.height / v.scale };
      drag = { x: e.clientX, y: e.clientY };
      draw();
    };
    const onUp = () => (drag = null);
    const onDbl = () => {
      view.current = fitView(points, W, H);
      draw();
    };
    c.addEventListener('wheel', onWheel, { passive: false });
    c.addEventListener('mousedown', onDown);
    addEventListener('mousemove', onMove);
    addEventListener('mouseup', onUp);
    c.addEventListener('dblclick', onDbl);
    return () => {
      c.removeEventListener('wheel', onWheel);
      c.removeEventListener('mousedown', onDown);
      removeEventListener('mousemove', onMove);
      removeEventListener('mouseup', onUp);
      c.removeEventListener('dblclick', onDbl);
    };
  }, [points, colours, visible]);

  if (error) return <p class="error">projector: {error}</p>;
  if (!meta || !points || !colours) return <p class="muted">Loading the embedding…</p>;
  const toggle = (label: number) => {
    const next = new Set(hidden);
    if (next.has(label)) next.delete(label);
    else next.add(label);
    setHidden(next);
  };
  const css = (word: number) => `rgb(${word & 255},${(word >>> 8) & 255},${(word >>> 16) & 255})`;
  return (
    <div class="projector" data-testid="projector">
      <h3>Embedding projector</h3>
      <p class="muted">
        {meta.n.toLocaleString('en-US')} points; the first two principal components of MBN's {meta.c}-dimensional embedding ({(100 * meta.projection.explained[0]).toFixed(1)} % and{' '}
        {(100 * meta.projection.explained[1]).toFixed(1)} % of its variance). Wheel: zoom, drag: pan, double-click: reset.
      </p>
      <div class="controls">
        colour by{' '}
        <label>
          <input type="radio" name="mode" checked={mode === 'cluster'} onChange={() => (setMode('cluster'), setHidden(new Set()))} /> MBN cluster
        </label>
        <label class={meta.hasTruth ? '' : 'muted'}>
          <input type="radio" name="mode" disabled={!meta.hasTruth} checked={mode === 'truth'} onChange={() => (setMode('truth'), setHidden(new Set()))} /> true label
        </label>
        <span class="muted" data-testid="projector-stats">
          {' '}
          · {stats.drawn.toLocaleString('en-US')} drawn · {stats.ms.toFixed(1)} ms/frame
        </span>
      </div>
      <div class="plot">
        <canvas ref={canvas} width={W} height={H} data-testid="projector-canvas" data-points={meta.n} data-drawn={stats.drawn} data-mode={mode} />
        <ul class="legend" data-testid="legend">
          {colours.legend.map((l) => (
            <li key={l.label} class={hidden.has(l.label) ? 'off' : ''} onClick={() => toggle(l.label)} data-label={l.label} data-count={l.count}>
              <i style={{ background: css(l.colour) }} />
              {mode === 'truth' ? 'label' : 'cluster'} {l.label} <span class="muted">({l.count})</span>
            </li>
          ))}
        </ul>
      </div>
      {meta.confusion && <ConfusionMatrix m={meta.confusion} acc={meta.metrics?.acc} />}
    </div>
  );
}

function ConfusionMatrix(props: { m: NonNullable<TRunEmbedding['confusion']>; acc: number | undefined }) {
  const { m } = props;
  const max = Math.max(1, ...m.counts.flat());
  const total = m.counts.flat().reduce((s, v) => s + v, 0);
  const trace = m.counts.reduce((s, row, i) => s + (row[i] ?? 0), 0);
  return (
    <div>
      <h3>Confusion matrix</h3>
      <p class="muted">
        Rows: true labels; columns: MBN's clusters, in the order of the best one-to-one match (Hungarian), so the diagonal holds the points ACC counts: {trace} of {total} = {fmtMetric(trace / total)} (run ACC {fmtMetric(props.acc)}).
      </p>
      <table class="confusion" data-testid="confusion" data-total={total} data-trace={trace}>
        <thead>
          <tr>
            <th>true \ cluster</th>
            {m.clusters.map((c) => (
              <th key={c}>{c}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {m.counts.map((row, i) => (
            <tr key={m.classes[i]}>
              <th>{m.classes[i]}</th>
              {row.map((v, j) => (
                <td key={j} class={i === j ? 'diag' : ''} style={{ background: `rgba(31,119,180,${(v / max) * 0.85})`, color: v / max > 0.5 ? '#fff' : undefined }}>
                  {v}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
