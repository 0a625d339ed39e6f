/** Display helpers shared by the pages (pure: also unit-tested in Node). */

export function shortId(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}

/** 0.5 → "0.5 s", 75 → "1 min 15 s", 4000 → "1 h 6 min". */
export function fmtDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** A metric in [0, 1] with 4 decimals, or —. */
export function fmtMetric(v: unknown): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(4) : '—';
}

export function fmtNumber(v: unknown, digits = 1): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
  return v >= 1000 ? Math.round(v).toLocaleString('en-US') : v.toFixed(digits);
}

export function fmtBytes(n: unknown): string {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '—';
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** The params a runs table shows, in a fixed order, as `V=100 a=0.5 …` (only the ones the run set). */
export function fmtParams(params: Record<string, unknown>): string {
  const order = ['V', 'a', 'delta', 'c', 'clusters', 'k1', 'k', 'kernel', 'seed'];
  const keys = [...order.filter((k) => k in params), ...Object.keys(params).filter((k) => !order.includes(k)).sort()];
  return keys.map((k) => `${k}=${Array.isArray(params[k]) ? (params[k] as unknown[]).join('/') : String(params[k])}`).join(' ');
}
