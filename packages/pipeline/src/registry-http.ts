/**
 * httpRegistry: the registry interface (registry-port.ts) over a coordinator's /v1 API. Every answer
 * is parsed with its @cmbn/api schema at this boundary, then turned into the same records
 * (Date timestamps) that the Prisma implementation returns; every error answer becomes the error
 * the Prisma side throws for the same case: the registry's codes as `RegistryError` (the server
 * relays the registry's own message), the edge's BAD_REQUEST as INVALID, an artifact the server
 * refuses as `PipelineError('ARTIFACT_MISMATCH')`. Anything else (no answer, 401, 5xx) is a
 * `RegistryHttpError` naming the route and status.
 *
 * The API has no route for the publish protocol (createModelVersion, markVersionReady,
 * markVersionFailed, findVersionByIdempotencyKey): a student is registered by the worker that
 * trained it, next to the database. Those throw `NotAvailableOverHttpError`.
 */
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import {
  ZAliasHistory,
  ZAliasMove,
  ZDeletedAlias,
  ZDeletedVersion,
  ZErrorBody,
  ZGcJob,
  ZModelDetail,
  ZModelList,
  ZModelVersion,
  ZRunView,
  ZVersionSearchPage,
  versionFromWire,
  type TAliasEvent,
  type TAliasMove,
  type TModelVersion,
  type TRegisteredModel,
} from '@cmbn/api';
import {
  RegistryError,
  parseModelRef,
  type AliasEvent,
  type AliasMove,
  type ModelVersionRecord,
  type RegisteredModelRecord,
  type RegistryErrorCode,
  type VersionSearch,
} from '@cmbn/registry';
import { PipelineError } from './errors.ts';
import { checkArtifact, type RegistryPort } from './registry-port.ts';

/** How often a sweep job is polled: from the first wait, doubling to the longest. */
const GC_POLL_MS = { first: 200, max: 2_000 };

/** A failed call that is not a registry error: no answer (`status` undefined), 401, 5xx, an answer outside the contract. */
export class RegistryHttpError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'RegistryHttpError';
  }
}

/** An operation of the registry interface that the coordinator's API does not expose. */
export class NotAvailableOverHttpError extends Error {
  readonly code = 'NOT_AVAILABLE_OVER_HTTP';

  constructor(readonly operation: string) {
    super(
      `${operation} is not available over HTTP: the coordinator's API has no route for it (students are registered by the worker that trained them); use the Prisma registry next to the database`,
    );
    this.name = 'NotAvailableOverHttpError';
  }
}

export interface HttpRegistryOptions {
  /** Bearer token (the coordinator's CMBN_API_TOKEN or one of CMBN_API_TOKENS). */
  token?: string;
  /** Per-request deadline; none by default (an archive download may be long). */
  timeoutMs?: number;
}

export type HttpRegistry = RegistryPort & { readonly baseUrl: string };

/** Every registry code (a Record, so a code added to RegistryErrorCode must be listed here too). */
const REGISTRY_CODE_TABLE: Record<RegistryErrorCode, true> = { NOT_FOUND: true, CONFLICT: true, IMMUTABLE: true, ALIAS_IN_USE: true, INVALID: true, CANCELLED: true };
const REGISTRY_CODES: ReadonlySet<string> = new Set(Object.keys(REGISTRY_CODE_TABLE));

const date = (s: string): Date => new Date(s);

/** @cmbn/api's one field table (versionFromWire): a search item's `aliases`, or any other extra, does not leak into a record. */
function versionRecord(v: TModelVersion): ModelVersionRecord {
  return versionFromWire(v);
}

function modelRecord(m: TRegisteredModel): RegisteredModelRecord {
  return { name: m.name, description: m.description, createdAt: date(m.createdAt), updatedAt: date(m.updatedAt), latestVersion: m.latestVersion, aliases: m.aliases };
}

/** The contract's event does not repeat the model's name (it is in the path); the record carries it. */
function eventRecord(modelName: string, e: TAliasEvent): AliasEvent {
  return { id: e.id, modelName, alias: e.alias, action: e.action, version: e.version, previousVersion: e.previousVersion, principal: e.principal, at: date(e.at) };
}

function moveRecord(m: TAliasMove): AliasMove {
  return { name: m.name, alias: m.alias, version: m.version, previousVersion: m.previousVersion, event: eventRecord(m.name, m.event) };
}

/** The search as the API's query string (`tag` repeats; metric bounds are min_<m> / max_<m>). */
export function versionSearchQuery(q: VersionSearch): string {
  const p = new URLSearchParams();
  for (const t of q.tags ?? []) p.append('tag', t);
  if (q.alias !== undefined) p.set('alias', q.alias);
  if (q.status !== undefined) p.set('status', q.status);
  for (const m of q.metrics ?? []) {
    if (m.min !== undefined) p.set(`min_${m.name}`, String(m.min));
    if (m.max !== undefined) p.set(`max_${m.name}`, String(m.max));
  }
  if (q.createdAfter !== undefined) p.set('created_after', q.createdAfter.toISOString());
  if (q.createdBefore !== undefined) p.set('created_before', q.createdBefore.toISOString());
  if (q.pageSize !== undefined) p.set('page_size', String(q.pageSize));
  if (q.pageToken !== undefined) p.set('page_token', q.pageToken);
  return p.toString();
}

const routeOf = (path: string): string => path.split('?')[0]!;

/** An error answer as the error the Prisma implementation throws for the same case. */
async function errorOf(path: string, res: Response): Promise<Error> {
  const body: unknown = await res.json().catch(() => undefined);
  const parsed = ZErrorBody.safeParse(body);
  const code = parsed.success ? parsed.data.error.code : undefined;
  const message = parsed.success ? parsed.data.error.message : res.statusText;
  const d = parsed.success ? parsed.data.error.details : undefined;
  const details = d !== null && typeof d === 'object' && !Array.isArray(d) ? (d as Record<string, unknown>) : undefined;
  if (code !== undefined && REGISTRY_CODES.has(code)) return new RegistryError(code as RegistryErrorCode, message, details);
  // The edge's own validation (zod on names, versions, queries): what the registry calls INVALID.
  if (code === 'BAD_REQUEST') return new RegistryError('INVALID', message, details);
  // The server refused to serve an archive that does not match its record (or has none).
  if (code === 'ARTIFACT_CORRUPT' || code === 'MODEL_NOT_READY') return new PipelineError('ARTIFACT_MISMATCH', message);
  return new RegistryHttpError(`${routeOf(path)}: ${message} (${res.status}${code !== undefined ? ` ${code}` : ''})`, res.status, code);
}

export function httpRegistry(baseUrl: string, opts: HttpRegistryOptions = {}): HttpRegistry {
  let parsedBase: URL;
  try {
    parsedBase = new URL(baseUrl);
  } catch {
    throw new PipelineError('INVALID', `invalid coordinator URL ${JSON.stringify(baseUrl)}: give http(s)://host:port`);
  }
  if (parsedBase.protocol !== 'http:' && parsedBase.protocol !== 'https:') {
    throw new PipelineError('INVALID', `invalid coordinator URL ${JSON.stringify(baseUrl)}: give http(s)://host:port`);
  }
  const base = baseUrl.replace(/\/+$/, '');
  const n = encodeURIComponent;

  async function request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (opts.token) headers.set('authorization', `Bearer ${opts.token}`);
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, { ...init, headers, ...(opts.timeoutMs !== undefined ? { signal: AbortSignal.timeout(opts.timeoutMs) } : {}) });
    } catch (err) {
      throw new RegistryHttpError(`cannot reach the coordinator at ${base}: ${String((err as Error).cause ?? (err as Error).message)}`);
    }
    if (!res.ok) throw await errorOf(path, res);
    return res;
  }

  /** The JSON answer, parsed with the route's schema: an answer outside the contract fails here, naming the field. */
  async function json<S extends z.ZodType>(schema: S, path: string, init?: RequestInit): Promise<z.infer<S>> {
    const res = await request(path, init);
    const r = schema.safeParse(await res.json().catch(() => undefined));
    if (!r.success) {
      const issue = r.error.issues[0];
      const where = issue ? `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}` : 'invalid';
      throw new RegistryHttpError(`${routeOf(path)}: the coordinator's answer does not match the API contract (${where}); is it another version of cmbn?`, res.status);
    }
    return r.data;
  }

  const send = (method: string, body: unknown): RequestInit => ({ method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const aliasPath = (name: string, alias: string) => `/v1/models/${n(name)}/aliases/${n(alias)}`;
  const getVersion = async (name: string, version: number) => versionRecord(await json(ZModelVersion, `/v1/models/${n(name)}/versions/${version}`));
  /** The newest version matching the query, or undefined (the search is newest first). */
  const newest = async (name: string, query: string) => {
    const page = await json(ZVersionSearchPage, `/v1/models/${n(name)}/versions?${query}&page_size=1`);
    return page.versions[0] === undefined ? undefined : versionRecord(page.versions[0]);
  };
  const unavailable = (operation: string) => async (): Promise<never> => {
    throw new NotAvailableOverHttpError(operation);
  };

  return {
    baseUrl: base,

    listModels: async () => (await json(ZModelList, '/v1/models')).models.map(modelRecord),
    getModel: async (name, opts) => {
      const m = await json(ZModelDetail, `/v1/models/${n(name)}${opts?.limit !== undefined ? `?versions=${opts.limit}` : ''}`);
      return { ...modelRecord(m), versions: m.versions.map(versionRecord), versionCount: m.versionCount, nextPageToken: m.nextPageToken };
    },
    getVersion,
    searchVersions: async (q) => {
      const page = await json(ZVersionSearchPage, `/v1/models/${n(q.name)}/versions?${versionSearchQuery(q)}`);
      return { versions: page.versions.map((v) => ({ ...versionRecord(v), aliases: v.aliases })), nextPageToken: page.nextPageToken };
    },

    /**
     * The same rules as @cmbn/registry's resolveModelRef, from the routes there are: the ref is
     * checked locally by the registry's own parser (so a bad one is the same INVALID), a version
     * is read directly, an alias or a bare name is a one-row search. Not-found messages are the
     * registry's.
     */
    resolveModelRef: async (ref) => {
      const p = parseModelRef(ref);
      let v: ModelVersionRecord | undefined;
      if ('version' in p) v = await getVersion(p.name, p.version);
      else if ('alias' in p) {
        v = await newest(p.name, `alias=${n(p.alias)}`);
        if (v === undefined) throw new RegistryError('NOT_FOUND', `alias ${ref} not found`);
      } else {
        v = await newest(p.name, 'status=READY');
        if (v === undefined) throw new RegistryError('NOT_FOUND', `model ${p.name} has no READY version`);
      }
      if (v.status !== 'READY') throw new RegistryError('CONFLICT', `${v.modelName}:${v.version} is ${v.status}, not READY`);
      return v;
    },

    aliasHistory: async (name, alias, o) => {
      const h = await json(ZAliasHistory, `${aliasPath(name, alias)}/history${o?.limit !== undefined ? `?limit=${o.limit}` : ''}`);
      return { current: h.current, events: h.events.map((e) => eventRecord(name, e)) };
    },

    /**
     * The archive route resolves the ref and serves the bytes it hashed; its X-Model-Version names
     * the version it resolved to, whose record is then read. The bytes must match the header, the
     * record and Content-Length: a pull is refused unless all agree.
     */
    fetchArtifact: async (ref) => {
      parseModelRef(ref);
      const path = `/v1/models/${n(ref)}/artifact`;
      const res = await request(path);
      const bytes = new Uint8Array(await res.arrayBuffer());
      const header = res.headers.get('x-artifact-sha256');
      const label = res.headers.get('x-model-version') ?? '';
      const m = /^(.+):(\d+)$/.exec(label);
      if (!header || !m) throw new RegistryHttpError(`refusing to pull ${ref}: the server sent no X-Artifact-Sha256 / X-Model-Version header`, res.status);
      const version = await getVersion(m[1]!, Number(m[2]));
      const actual = createHash('sha256').update(bytes).digest('hex');
      if (actual !== header || actual !== version.artifactSha256) {
        throw new PipelineError(
          'ARTIFACT_MISMATCH',
          `refusing to pull ${label}: artifact sha256 mismatch (downloaded bytes hash to ${actual}, X-Artifact-Sha256 says ${header}, ` +
            `the registry recorded ${version.artifactSha256}); the artifact was modified or corrupted`,
          { expected: version.artifactSha256, actual },
        );
      }
      const length = Number(res.headers.get('content-length') ?? NaN);
      if (Number.isFinite(length) && length !== bytes.byteLength) {
        throw new PipelineError('ARTIFACT_MISMATCH', `refusing to pull ${label}: ${bytes.byteLength} bytes received, Content-Length ${length}`);
      }
      checkArtifact(version, bytes);
      return { version, bytes };
    },

    createModelVersion: unavailable('createModelVersion'),
    markVersionReady: unavailable('markVersionReady'),
    markVersionFailed: unavailable('markVersionFailed'),
    findVersionByIdempotencyKey: unavailable('findVersionByIdempotencyKey'),
    isRunCancelled: async (runId) => (await json(ZRunView, `/v1/runs/${n(runId)}`)).status === 'CANCELLED',

    setAlias: async (name, alias, version) => moveRecord(await json(ZAliasMove, aliasPath(name, alias), send('PUT', { version }))),
    rollbackAlias: async (name, alias) => moveRecord(await json(ZAliasMove, `${aliasPath(name, alias)}/rollback`, { method: 'POST' })),
    deleteAlias: async (name, alias) => eventRecord(name, (await json(ZDeletedAlias, aliasPath(name, alias), { method: 'DELETE' })).event),
    deleteVersion: async (name, version) => {
      const d = await json(ZDeletedVersion, `/v1/models/${n(name)}/versions/${version}`, { method: 'DELETE' });
      return { name: d.name, version: d.version, orphaned: d.orphaned, artifacts: d.artifacts };
    },
    /** Starts the sweep job (or joins the one already queued or running) and waits for its end. */
    gc: async (req = {}) => {
      let job = await json(ZGcJob, '/v1/gc', send('POST', { ...(req.graceSeconds !== undefined ? { graceSeconds: req.graceSeconds } : {}), dryRun: req.dryRun === true }));
      let seen = '';
      for (let waitMs = GC_POLL_MS.first; ; waitMs = Math.min(waitMs * 2, GC_POLL_MS.max)) {
        if (`${job.status}:${job.attempts}` !== seen) {
          seen = `${job.status}:${job.attempts}`;
          req.onStatus?.({ id: job.id, status: job.status, attempts: job.attempts });
        }
        if (job.status === 'succeeded' && job.result !== null) return job.result;
        if (job.status === 'failed') throw new RegistryHttpError(`sweep ${job.id} failed: ${job.error ?? 'no reason recorded'}`);
        await new Promise((r) => setTimeout(r, waitMs));
        job = await json(ZGcJob, `/v1/gc/${n(job.id)}`);
      }
    },
  };
}
