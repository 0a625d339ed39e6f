/**
 * The route table of the coordinator's HTTP API: every route with its parameters, body and
 * responses, as zod schemas. The OpenAPI document is generated from it (openapi.ts), the
 * coordinator's test checks that every express route is in it, and clients find a response's
 * schema here (responseSchema). A route added to the app must be added here.
 */
import type { z } from 'zod';
import { ZErrorBody, ZIdParams, ZNameParams } from './common.ts';
import { ZDataset, ZUploadQuery } from './datasets.ts';
import {
  ZAliasHistory,
  ZAliasMove,
  ZAliasParams,
  ZDeletedAlias,
  ZDeletedVersion,
  ZGcBody,
  ZGcJob,
  ZHistoryQuery,
  ZModelDetail,
  ZModelDetailQuery,
  ZModelList,
  ZModelVersion,
  ZRefParams,
  ZSetAliasBody,
  ZVersionParams,
  ZVersionSearchPage,
  ZVersionSearchQuery,
} from './models.ts';
import { ZHealth, ZLogin, ZLoginBody, ZSessionState } from './ops.ts';
import { ZCancelledRun, ZRunEmbedding, ZRunList, ZRunListQuery, ZRunView, ZSubmitRunBody, ZSubmittedRun } from './runs.ts';

export type Method = 'get' | 'post' | 'put' | 'delete';

export interface ApiResponse {
  description: string;
  /** JSON body schema. */
  json?: z.ZodType;
  /** A non-JSON body (`application/octet-stream`, `text/event-stream`, …). */
  contentType?: string;
}

export interface ApiRoute {
  method: Method;
  /** Express-style path (`/v1/runs/:id`). */
  path: string;
  summary: string;
  tag: 'ops' | 'datasets' | 'runs' | 'models' | 'console';
  /** Whether the API token (or the console's session cookie) is required when one is configured. */
  auth: boolean;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: { contentType: string; schema?: z.ZodType; description?: string };
  responses: Record<number, ApiResponse>;
}

const json = (description: string, schema: z.ZodType): ApiResponse => ({ description, json: schema });

export const apiRoutes: ApiRoute[] = [
  // ops (no token: probes and scrapers)
  { method: 'get', path: '/healthz', tag: 'ops', auth: false, summary: 'Health of Redis, Postgres and the artifact store (answers within seconds whatever is down)', responses: { 200: json('all up', ZHealth), 503: json('something is down', ZHealth) } },
  { method: 'get', path: '/metrics', tag: 'ops', auth: false, summary: 'Prometheus metrics', responses: { 200: { description: 'text exposition format 0.0.4', contentType: 'text/plain' } } },
  { method: 'get', path: '/openapi.json', tag: 'ops', auth: false, summary: 'This document (OpenAPI 3.1)', responses: { 200: { description: 'the OpenAPI document', contentType: 'application/json' } } },
  { method: 'get', path: '/', tag: 'console', auth: false, summary: 'The web console (static page; its data comes from /v1)', responses: { 200: { description: 'the console page', contentType: 'text/html' } } },

  // console session (cookie for EventSource, which cannot send headers)
  { method: 'post', path: '/v1/session', tag: 'console', auth: false, summary: 'Exchange an API token for an HttpOnly session cookie', body: { contentType: 'application/json', schema: ZLoginBody }, responses: { 200: json('signed in (Set-Cookie)', ZLogin) } },
  { method: 'get', path: '/v1/session', tag: 'console', auth: true, summary: 'Who the request is authenticated as', responses: { 200: json('the principal', ZSessionState) } },
  { method: 'delete', path: '/v1/session', tag: 'console', auth: false, summary: 'End the session and clear its cookie', responses: { 204: { description: 'signed out' } } },

  // datasets
  {
    method: 'post', path: '/v1/datasets', tag: 'datasets', auth: true, summary: 'Upload a dataset (.npy, IDX or CSV) or, with labelsFor, its labels; content-addressed', query: ZUploadQuery,
    body: { contentType: 'application/octet-stream', description: 'the raw file bytes' },
    responses: { 200: json('these bytes were already stored', ZDataset), 201: json('stored', ZDataset) },
  },
  { method: 'get', path: '/v1/datasets/:id', tag: 'datasets', auth: true, summary: 'A dataset by id or sha256', params: ZIdParams, responses: { 200: json('the dataset', ZDataset) } },

  // runs
  { method: 'post', path: '/v1/runs', tag: 'runs', auth: true, summary: 'Submit an MBN run (optionally with distillation)', body: { contentType: 'application/json', schema: ZSubmitRunBody }, responses: { 201: json('queued', ZSubmittedRun) } },
  { method: 'get', path: '/v1/runs', tag: 'runs', auth: true, summary: 'Runs, newest first', query: ZRunListQuery, responses: { 200: json('the runs', ZRunList) } },
  { method: 'get', path: '/v1/runs/:id', tag: 'runs', auth: true, summary: 'A run with its layers, ETA, metrics and student', params: ZIdParams, responses: { 200: json('the run', ZRunView) } },
  { method: 'post', path: '/v1/runs/:id/cancel', tag: 'runs', auth: true, summary: 'Cancel a run', params: ZIdParams, responses: { 200: json('cancelled', ZCancelledRun) } },
  { method: 'get', path: '/v1/runs/:id/model', tag: 'runs', auth: true, summary: "The run's model.cmbn (verified while it streams; X-Model-Hash)", params: ZIdParams, responses: { 200: { description: 'model.cmbn', contentType: 'application/octet-stream' } } },
  { method: 'get', path: '/v1/runs/:id/events', tag: 'runs', auth: true, summary: 'Server-Sent Events: progress and status, ending after the terminal status', params: ZIdParams, responses: { 200: { description: 'an event stream', contentType: 'text/event-stream' } } },
  { method: 'get', path: '/v1/runs/:id/embedding', tag: 'runs', auth: true, summary: "The projector's summary of the run's embedding", params: ZIdParams, responses: { 200: json('projection, cluster sizes, confusion matrix', ZRunEmbedding) } },
  { method: 'get', path: '/v1/runs/:id/embedding/points', tag: 'runs', auth: true, summary: "The embedding's 2-D points (little-endian f32 x[n], f32 y[n], i32 cluster[n][, i32 truth[n]])", params: ZIdParams, responses: { 200: { description: 'the points', contentType: 'application/octet-stream' } } },

  // models
  { method: 'get', path: '/v1/models', tag: 'models', auth: true, summary: 'Registered models with their latest version and aliases', responses: { 200: json('the models', ZModelList) } },
  {
    method: 'get', path: '/v1/models/:name', tag: 'models', auth: true, params: ZNameParams, query: ZModelDetailQuery,
    summary: "A model's aliases and its newest versions (`versions`, default 100, at most 1000), oldest first; nextPageToken pages older ones through /versions",
    responses: { 200: json('the model', ZModelDetail) },
  },
  {
    method: 'get', path: '/v1/models/:name/versions', tag: 'models', auth: true, params: ZNameParams, query: ZVersionSearchQuery,
    summary: 'Search versions by tag (key or key=value, repeatable), alias, status, metric range (min_/max_<metric>) and creation time, newest first, paged (page_token)',
    responses: { 200: json('a page of versions', ZVersionSearchPage) },
  },
  { method: 'get', path: '/v1/models/:name/versions/:v', tag: 'models', auth: true, summary: 'A version', params: ZVersionParams, responses: { 200: json('the version', ZModelVersion) } },
  {
    method: 'delete', path: '/v1/models/:name/versions/:v', tag: 'models', auth: true, params: ZVersionParams,
    summary: 'Delete a version (refused while aliased) and the artifact objects nothing else references',
    responses: { 200: json('deleted', ZDeletedVersion) },
  },
  { method: 'put', path: '/v1/models/:name/aliases/:alias', tag: 'models', auth: true, summary: 'Point an alias at a READY version (recorded in its history)', params: ZAliasParams, body: { contentType: 'application/json', schema: ZSetAliasBody }, responses: { 200: json('moved', ZAliasMove) } },
  { method: 'delete', path: '/v1/models/:name/aliases/:alias', tag: 'models', auth: true, summary: 'Remove an alias (recorded in its history)', params: ZAliasParams, responses: { 200: json('removed', ZDeletedAlias) } },
  { method: 'get', path: '/v1/models/:name/aliases/:alias/history', tag: 'models', auth: true, summary: "An alias' moves, newest first: who, when, from which version", params: ZAliasParams, query: ZHistoryQuery, responses: { 200: json('the history', ZAliasHistory) } },
  { method: 'post', path: '/v1/models/:name/aliases/:alias/rollback', tag: 'models', auth: true, summary: 'Move an alias back to the version it pointed at before its latest move', params: ZAliasParams, responses: { 200: json('moved back', ZAliasMove) } },
  { method: 'get', path: '/v1/models/:ref/artifact', tag: 'models', auth: true, summary: "A student's tar archive: NAME@ALIAS, NAME:VERSION or NAME (latest READY); X-Artifact-Sha256, X-Model-Version", params: ZRefParams, responses: { 200: { description: 'the archive', contentType: 'application/x-tar' } } },
  {
    method: 'post', path: '/v1/gc', tag: 'models', auth: true, body: { contentType: 'application/json', schema: ZGcBody },
    summary: 'Start a sweep of the artifact objects nothing references (older than the grace period), finishing interrupted deletions; answers at once with the job (Location: /v1/gc/:id), or with the sweep already queued or running',
    responses: { 202: json('the sweep job', ZGcJob) },
  },
  { method: 'get', path: '/v1/gc/:id', tag: 'models', auth: true, summary: 'A sweep job: its status, and what was swept once it succeeded', params: ZIdParams, responses: { 200: json('the sweep job', ZGcJob) } },
];

/** `/v1/runs/:id` → `/v1/runs/{id}` */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
}

/** The route an actual request path matches (`/v1/runs/abc` → the `/v1/runs/:id` route), literal segments first. */
export function findRoute(method: string, actualPath: string): ApiRoute | undefined {
  const m = method.toLowerCase();
  const segs = actualPath.split('?')[0]!.split('/');
  const candidates = apiRoutes.filter((r) => {
    if (r.method !== m) return false;
    const rs = r.path.split('/');
    return rs.length === segs.length && rs.every((s, i) => s.startsWith(':') || s === segs[i]);
  });
  // The most literal segments wins (`/v1/models/x/versions` over `/v1/models/:ref/artifact`-like shapes).
  const literal = (r: ApiRoute) => r.path.split('/').filter((s) => !s.startsWith(':')).length;
  return candidates.sort((a, b) => literal(b) - literal(a))[0];
}

/** The JSON schema of a route's answer with this status: the route's own, else the error body for ≥ 400. */
export function responseSchema(route: ApiRoute, status: number): z.ZodType | undefined {
  const r = route.responses[status];
  if (r) return r.json;
  return status >= 400 ? ZErrorBody : undefined;
}
