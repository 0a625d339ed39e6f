/**
 * The console's calls to /v1. Same origin, so the session cookie goes along; a 401 shows the login.
 * Every answer (and each SSE event) is parsed with @cmbn/api's schemas, the same ones the
 * coordinator types its answers with; the pages use their z.infer types (TRunView, …), never own copies.
 */
import type { z } from 'zod';
import { ZErrorBody } from '@cmbn/api';

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
    // Every error is the contract's error body; anything else (a proxy's HTML page) keeps the status line.
    const body = ZErrorBody.safeParse(await res.json());
    if (body.success) ({ code, message } = body.data.error);
  } catch {
    // not JSON
  }
  if (res.status === 401) onUnauthorized();
  return new ApiError(res.status, code, message);
}

/** Parses an answer with its contract schema; a mismatch is an ApiError naming the fields, never a silently wrong page. */
export function parseAnswer<S extends z.ZodType>(what: string, schema: S, value: unknown, status = 200): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new ApiError(status, 'CONTRACT', `${what}: the answer does not match the API contract: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return r.data;
}

async function jsonOf(res: Response, path: string): Promise<unknown> {
  try {
    return await res.json();
  } catch {
    throw new ApiError(res.status, 'CONTRACT', `${path}: the answer is not JSON`);
  }
}

export async function getJson<S extends z.ZodType>(path: string, schema: S): Promise<z.infer<S>> {
  const res = await fetch(path, { credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (!res.ok) throw await failure(res);
  return parseAnswer(path, schema, await jsonOf(res, path), res.status);
}

export async function getBytes(path: string): Promise<ArrayBuffer> {
  const res = await fetch(path, { credentials: 'same-origin' });
  if (!res.ok) throw await failure(res);
  return res.arrayBuffer();
}

/**
 * A request with a JSON body (or none). `schema` is the contract's answer; null for a route that
 * answers 204 No Content, where any other answer is a contract break too.
 */
export async function sendJson<S extends z.ZodType>(method: string, path: string, schema: S, body?: unknown): Promise<z.infer<S>>;
export async function sendJson(method: string, path: string, schema: null, body?: unknown): Promise<undefined>;
export async function sendJson(method: string, path: string, schema: z.ZodType | null, body?: unknown): Promise<unknown> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok) throw await failure(res);
  if (schema === null) {
    if (res.status !== 204) throw new ApiError(res.status, 'CONTRACT', `${method} ${path}: expected 204 No Content, got ${res.status}`);
    return undefined;
  }
  return parseAnswer(`${method} ${path}`, schema, await jsonOf(res, path), res.status);
}
