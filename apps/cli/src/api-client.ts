import { findRoute, responseSchema } from '@cmbn/api';

/**
 * A failed call: `status` is the HTTP status, or undefined when no answer came (connection
 * refused or reset, DNS, a timeout). `transient` says whether retrying later can help.
 */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /**
   * No answer, or one of a coordinator that is starting, stopping, overloaded or hit something
   * unexpected (500 INTERNAL): worth retrying an idempotent read for a while. A deliberate 5xx
   * such as ARTIFACT_CORRUPT is not.
   */
  get transient(): boolean {
    const s = this.status;
    return s === undefined || s === 429 || s === 502 || s === 503 || s === 504 || (s === 500 && (this.code === undefined || this.code === 'INTERNAL'));
  }
}

/**
 * A thin client of the coordinator's JSON API. Every non-2xx answer becomes an Error carrying the
 * server's `{ error: { code, message } }`, except a 404 where the caller asked to see it.
 */
export class ApiClient {
  readonly base: string;

  constructor(
    base: string,
    /** Readable so that the registry client (httpRegistry) can be built from this one. */
    readonly token: string | undefined,
  ) {
    this.base = base.replace(/\/+$/, '');
  }

  async request(path: string, init: RequestInit = {}, opts: { allowNotFound?: boolean; timeoutMs?: number } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.token) headers.set('authorization', `Bearer ${this.token}`);
    let res: Response;
    try {
      const signal = opts.timeoutMs === undefined ? init.signal : AbortSignal.any([AbortSignal.timeout(opts.timeoutMs), ...(init.signal ? [init.signal] : [])]);
      res = await fetch(`${this.base}${path}`, { ...init, headers, ...(signal ? { signal } : {}) });
    } catch (err) {
      throw new ApiError(`cannot reach the coordinator at ${this.base}: ${String((err as Error).cause ?? (err as Error).message)}`);
    }
    if (!res.ok && !(opts.allowNotFound && res.status === 404)) {
      const body = (await res.json().catch(() => undefined)) as { error?: { code?: string; message?: string } } | undefined;
      throw new ApiError(
        `${path.split('?')[0]}: ${body?.error?.message ?? res.statusText} (${res.status}${body?.error?.code ? ` ${body.error.code}` : ''})`,
        res.status,
        body?.error?.code,
      );
    }
    return res;
  }

  /**
   * The JSON answer, parsed with the contract's schema of the route and status (@cmbn/api): a
   * coordinator that answers something else fails here, naming the field, instead of somewhere
   * later. Paths the contract does not know are returned as sent.
   */
  async json<T>(path: string, init?: RequestInit): Promise<T> {
    const res = await this.request(path, init);
    return this.parse<T>(path, init, res.status, await res.json());
  }

  /** Like json(), but a 404 is `undefined` instead of an error. */
  async jsonOrUndefined<T>(path: string, init?: RequestInit): Promise<T | undefined> {
    const res = await this.request(path, init, { allowNotFound: true });
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    return this.parse<T>(path, init, res.status, await res.json());
  }

  private parse<T>(path: string, init: RequestInit | undefined, status: number, body: unknown): T {
    const route = findRoute(init?.method ?? 'GET', path);
    const schema = route ? responseSchema(route, status) : undefined;
    if (schema === undefined) return body as T;
    const r = schema.safeParse(body);
    if (!r.success) {
      const issue = r.error.issues[0];
      throw new ApiError(
        `${path.split('?')[0]}: the coordinator's answer does not match the API contract (${issue ? `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}` : 'invalid'}); is it another version of cmbn?`,
        status,
      );
    }
    return r.data as T;
  }
}
