import { useEffect, useState } from 'preact/hooks';
import { ZAliasHistory, ZModelDetail, ZModelList, type TAliasHistory, type TModelDetail, type TModelList } from '@cmbn/api';
import { fmtBytes, fmtMetric, fmtNumber, shortId } from '../lib/format.ts';
import { getJson } from './api.tsx';
import { href } from './router.tsx';

/** Registered models: latest version and aliases. */
export function ModelsPage() {
  const [list, setList] = useState<TModelList | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    getJson('/v1/models', ZModelList).then(setList, (e: Error) => setError(e.message));
  }, []);
  if (error) return <p class="error">{error}</p>;
  if (!list) return <p class="muted">Loading models…</p>;
  if (list.models.length === 0) return <p class="muted">No registered models. Train with <code>--distill --register NAME</code>.</p>;
  return (
    <section>
      <h2>Models</h2>
      <table class="grid" data-testid="models-table">
        <thead>
          <tr>
            <th>name</th>
            <th>latest version</th>
            <th>aliases</th>
            <th>updated</th>
          </tr>
        </thead>
        <tbody>
          {list.models.map((m) => (
            <tr key={m.name} data-model={m.name}>
              <td>
                <a href={href('models', m.name)}>{m.name}</a>
              </td>
              <td class="num">{m.latestVersion}</td>
              <td>
                {Object.entries(m.aliases).map(([a, v]) => (
                  <span class="tag" key={a}>
                    @{a} → {v}
                  </span>
                ))}
              </td>
              <td>{new Date(m.updatedAt).toLocaleString()}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** One model: its versions (lineage to the run, metrics, agreement and speedup, signature, download) and each alias' history. */
export function ModelPage(props: { name: string }) {
  const [model, setModel] = useState<TModelDetail | null>(null);
  const [histories, setHistories] = useState<TAliasHistory[]>([]);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const name = encodeURIComponent(props.name);
    getJson(`/v1/models/${name}`, ZModelDetail).then(async (m) => {
      setModel(m);
      const hs = await Promise.all(Object.keys(m.aliases).map((a) => getJson(`/v1/models/${name}/aliases/${encodeURIComponent(a)}/history`, ZAliasHistory).catch(() => null)));
      setHistories(hs.filter((h): h is TAliasHistory => h !== null));
    }, (e: Error) => setError(e.message));
  }, [props.name]);
  if (error) return <p class="error">{error}</p>;
  if (!model) return <p class="muted">Loading model…</p>;
  const aliasesOf = (v: number) => Object.entries(model.aliases).filter(([, x]) => x === v).map(([a]) => a);
  return (
    <section data-testid="model-page" data-model={model.name}>
      <h2>
        Model <span class="mono">{model.name}</span>
      </h2>
      {model.description && <p>{model.description}</p>}
      <table class="grid" data-testid="versions-table">
        <thead>
          <tr>
            <th>version</th>
            <th>status</th>
            <th>aliases</th>
            <th>run</th>
            <th>agreement</th>
            <th>speedup</th>
            <th>ACC</th>
            <th>NMI</th>
            <th>backend</th>
            <th>size</th>
            <th>created</th>
            <th>download</th>
          </tr>
        </thead>
        <tbody>
          {model.versions.map((v) => {
            const m = v.metrics;
            return (
              <tr key={v.version} data-version={v.version}>
                <td class="num">{v.version}</td>
                <td>{v.status}</td>
                <td>
                  {aliasesOf(v.version).map((a) => (
                    <span class="tag" key={a}>
                      @{a}
                    </span>
                  ))}
                </td>
                <td class="mono">{v.runId ? <a href={href('runs', v.runId)}>{shortId(v.runId)}</a> : '—'}</td>
                <td class="num" data-col="agreement">{fmtMetric(m.agreement)}</td>
                <td class="num" data-col="speedup">{typeof m.speedup === 'number' ? `${fmtNumber(m.speedup)}×` : '—'}</td>
                <td class="num">{fmtMetric(m.acc)}</td>
                <td class="num">{fmtMetric(m.nmi)}</td>
                <td>{v.backend}</td>
                <td class="num">{fmtBytes(v.artifactBytes)}</td>
                <td>{new Date(v.createdAt).toLocaleString()}</td>
                <td>{v.status === 'READY' ? <a href={`/v1/models/${encodeURIComponent(`${model.name}:${v.version}`)}/artifact`}>.tar</a> : '—'}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {model.nextPageToken !== null && (
        <p class="muted" data-testid="versions-truncated">
          The newest {model.versions.length} of {model.versionCount} versions; <span class="mono">cmbn models search {model.name} --all</span> lists the older ones.
        </p>
      )}
      {model.versions.map((v) => (
        <details key={v.version} class="version-details">
          <summary>
            version {v.version}: lineage, metrics and signature
          </summary>
          <dl class="facts">
            <dt>run</dt>
            <dd class="mono">{v.runId ? <a href={href('runs', v.runId)}>{v.runId}</a> : '—'}</dd>
            <dt>MBN model</dt>
            <dd class="mono">{v.mbnModelHash}</dd>
            <dt>dataset</dt>
            <dd class="mono">{v.datasetSha256}</dd>
            <dt>artifact</dt>
            <dd class="mono">{v.artifactSha256 ?? '—'}</dd>
            <dt>params</dt>
            <dd class="mono">{JSON.stringify(v.params)}</dd>
            <dt>tags</dt>
            <dd class="mono">{JSON.stringify(v.tags)}</dd>
          </dl>
          <h4>metrics</h4>
          <pre>{JSON.stringify(v.metrics, null, 2)}</pre>
          <h4>signature</h4>
          <pre data-testid="signature">{JSON.stringify(v.signature, null, 2)}</pre>
        </details>
      ))}
      <h3>Alias history</h3>
      {histories.length === 0 && <p class="muted">No aliases.</p>}
      {histories.map((h) => (
        <div key={h.alias}>
          <h4>
            @{h.alias} → {h.current ?? '—'}
          </h4>
          <table class="grid" data-testid={`alias-history-${h.alias}`}>
            <thead>
              <tr>
                <th>when</th>
                <th>action</th>
                <th>from</th>
                <th>to</th>
                <th>who</th>
              </tr>
            </thead>
            <tbody>
              {h.events.map((e) => (
                <tr key={e.id}>
                  <td>{new Date(e.at).toLocaleString()}</td>
                  <td>{e.action}</td>
                  <td class="num">{e.previousVersion ?? '—'}</td>
                  <td class="num">{e.version ?? '—'}</td>
                  <td>{e.principal}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ))}
    </section>
  );
}
