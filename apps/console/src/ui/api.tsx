/**
 * The console's calls to /v1. Same origin, so the session cookie goes along; a 401 shows the login.
 * Bodies are parsed with @cmbn/api's schemas, the same ones the coordinator answers with.
 */
import type { z } from 'zod';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let onUnauthorized: () => void = () => {};
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}

async function failure(res: Response): Promise<ApiError> {
  let code = 'HTTP_' + res.status;
  let message = res.statusText;
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    code = body.error?.code ?? code;
    message = body.error?.message ?? message;
  } catch {
    // not JSON
  }
  if (res.status === 401) onUnauthorized();
  return new ApiError(res.status, code, message);
}

export async function getJson<S extends z.ZodType>(path: string, schema: S): Promise<z.infer<S>> {
  const res = await fetch(path, { credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (!res.ok) throw await failure(res);
  const r = schema.safeParse(await res.json());
  if (!r.success) throw new ApiError(res.status, 'CONTRACT', `${path}: the answer does not match the API contract: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

export async function getBytes(path: string): Promise<ArrayBuffer> {
  const res = await fetch(path, { credentials: 'same-origin' });
  if (!res.ok) throw await failure(res);
  return res.arrayBuffer();
}

export async function sendJson<T>(method: string, path: string, body?: unknown): Promise<T | undefined> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw await failure(res);
  return res.status === 204 ? undefined : ((await res.json()) as T);
}

export interface Session {
  principal: string;
  via: 'none' | 'token' | 'session';
  authRequired: boolean;
}

export interface LayerView {
  layer: number;
  k: number;
  status: string;
  shardsDone: number;
  shardsTotal: number;
  seconds: number | null;
}

export interface RunView {
  id: string;
  status: string;
  datasetId: string;
  labelsId: string | null;
  params: Record<string, unknown>;
  ks: number[];
  currentLayer: number;
  layers: LayerView[];
  etaSeconds: number | null;
  modelHash: string | null;
  metrics: Record<string, number> | null;
  summary: Record<string, unknown> | null;
  student: Record<string, unknown> | null;
  mbnSeconds: number | null;
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface RunListItem {
  id: string;
  status: string;
  datasetId: string;
  labelsId: string | null;
  params: Record<string, unknown>;
  distill: boolean;
  ks: number[];
  currentLayer: number;
  metrics: Record<string, number> | null;
  modelHash: string | null;
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationSeconds: number | null;
}

export interface EmbeddingView {
  runId: string;
  n: number;
  c: number;
  projection: { method: string; explained: [number, number] };
  clusterSizes: { cluster: number; count: number }[];
  hasTruth: boolean;
  confusion: { classes: number[]; clusters: number[]; counts: number[][] } | null;
  metrics: Record<string, number> | null;
  points: { url: string };
}

/** The trainer's progress event (`event: progress` of GET /v1/runs/:id/events). */
export interface ProgressEvent {
  type: 'progress';
  progress: { stage: string; layer?: number; layers?: number; k?: number; done?: number; total?: number };
}
export interface StatusEvent {
  type: 'status';
  status: string;
  error: string | null;
  modelHash: string | null;
}
