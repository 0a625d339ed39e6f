import { z } from 'zod';
import type { OpenApiDocument } from './openapi.ts';

export interface DocumentValidator {
  /** The document's path template (`/v1/runs/{id}`) an actual request path matches, if any. */
  pathOf(method: string, actualPath: string): string | undefined;
  /**
   * Problems of one answer against the document: an undocumented route or status, a content type
   * it does not list, a JSON body its schema refuses. Empty when the answer conforms.
   */
  check(method: string, actualPath: string, status: number, contentType: string | null, body: unknown): string[];
}

/** Replaces every `$ref: '#/components/schemas/X'` by the component itself (the document has no cycles). */
function inline(node: unknown, components: Record<string, unknown>, depth = 0): unknown {
  if (depth > 64) throw new Error('schema nesting too deep (a $ref cycle?)');
  if (Array.isArray(node)) return node.map((n) => inline(n, components, depth + 1));
  if (node === null || typeof node !== 'object') return node;
  const o = node as Record<string, unknown>;
  if (typeof o.$ref === 'string') {
    const name = /^#\/components\/schemas\/(.+)$/.exec(o.$ref)?.[1];
    if (name === undefined || !(name in components)) throw new Error(`unresolvable $ref ${o.$ref}`);
    const { $ref: _ref, ...rest } = o;
    return { ...(inline(components[name], components, depth + 1) as object), ...(inline(rest, components, depth + 1) as object) };
  }
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, inline(v, components, depth + 1)]));
}

/**
 * Checks answers against an OpenAPI document as a client would read it: the JSON schemas of the
 * document (not the zod schemas it was generated from) are turned back into validators with zod's
 * JSON-Schema reader, so a generator bug that documents something else than the server sends shows up.
 */
export function documentValidator(doc: OpenApiDocument): DocumentValidator {
  const components = doc.components?.schemas ?? {};
  const templates = Object.keys(doc.paths).map((t) => ({
    t,
    re: new RegExp(`^${t.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`),
    literal: t.split('/').filter((s) => !s.startsWith('{')).length,
  }));
  const cache = new Map<string, z.ZodType>();
  const validatorOf = (key: string, schema: unknown): z.ZodType => {
    let v = cache.get(key);
    if (!v) {
      v = z.fromJSONSchema(inline(schema, components) as Parameters<typeof z.fromJSONSchema>[0], { defaultTarget: 'draft-2020-12' });
      cache.set(key, v);
    }
    return v;
  };
  const pathOf = (method: string, actualPath: string) => {
    const p = actualPath.split('?')[0]!;
    const m = method.toLowerCase();
    return templates
      .filter((x) => x.re.test(p) && doc.paths[x.t]?.[m] !== undefined)
      .sort((a, b) => b.literal - a.literal)[0]?.t;
  };
  return {
    pathOf,
    check(method, actualPath, status, contentType, body) {
      const t = pathOf(method, actualPath);
      if (t === undefined) return [`${method.toUpperCase()} ${actualPath}: no documented route`];
      const op = doc.paths[t]![method.toLowerCase()]!;
      const res = op.responses[String(status)] ?? op.responses.default;
      const where = `${method.toUpperCase()} ${t} ${status}`;
      if (res === undefined) return [`${where}: status not documented`];
      const ct = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
      const content = res.content ?? {};
      if (Object.keys(content).length === 0) return body === undefined || body === '' ? [] : [`${where}: documented without a body, got one`];
      const media = content[ct];
      if (media === undefined) return [`${where}: content type ${ct || '(none)'} not documented (${Object.keys(content).join(', ')})`];
      if (ct !== 'application/json') return [];
      const r = validatorOf(`${t} ${method} ${status in op.responses ? status : 'default'}`, media.schema ?? {}).safeParse(body);
      return r.success ? [] : r.error.issues.map((i) => `${where}: ${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
    },
  };
}

export type FetchLike = (path: string, init?: RequestInit) => Promise<Response>;

export interface ContractReport {
  issues: string[];
  checked: number;
}

/**
 * Wraps a test's fetch so that every answer is checked against the document: problems are pushed
 * to `report.issues` (a test asserts it empty at the end) and `report.checked` counts the answers.
 * JSON bodies are read from a clone, so the caller reads the answer as usual; event streams are
 * checked by status and content type only.
 */
export function contractCheckedFetch(inner: FetchLike, v: DocumentValidator, report: ContractReport): FetchLike {
  const issues = report.issues;
  return async (path, init) => {
    const res = await inner(path, init);
    report.checked++;
    const method = init?.method ?? 'GET';
    const ct = res.headers.get('content-type');
    let body: unknown;
    if ((ct ?? '').startsWith('application/json')) {
      const text = await res.clone().text();
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        issues.push(`${method} ${path} ${res.status}: the body is not JSON`);
        return res;
      }
    }
    issues.push(...v.check(method, path, res.status, ct, body));
    return res;
  };
}

/** A test client with a `json()` reader, as the coordinator's and the console's tests use. */
export interface CheckedApi {
  (path: string, init?: RequestInit): Promise<Response>;
  // Test assertions read arbitrary response fields.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json<T = any>(path: string, init?: RequestInit): Promise<{ status: number; body: T }>;
}

/** `inner` with every answer checked against the OpenAPI document that `inner` serves at /openapi.json. */
export async function contractCheckedApi(inner: FetchLike, report: ContractReport): Promise<CheckedApi> {
  const doc = (await (await inner('/openapi.json')).json()) as OpenApiDocument;
  const call = contractCheckedFetch(inner, documentValidator(doc), report);
  return Object.assign(call, {
    async json(path: string, init?: RequestInit) {
      const res = await call(path, init);
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    },
  });
}
