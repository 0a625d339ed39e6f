/**
 * A thin client of the coordinator's JSON API. Every non-2xx answer becomes an Error carrying the
 * server's `{ error: { code, message } }`, except a 404 where the caller asked to see it.
 */
export class ApiClient {
  readonly base: string;

  constructor(
    base: string,
    private readonly token: string | undefined,
  ) {
    this.base = base.replace(/\/+$/, '');
  }

  async request(path: string, init: RequestInit = {}, opts: { allowNotFound?: boolean } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.token) headers.set('authorization', `Bearer ${this.token}`);
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, { ...init, headers });
    } catch (err) {
      throw new Error(`cannot reach the coordinator at ${this.base}: ${(err as Error).cause ?? (err as Error).message}`);
    }
    if (!res.ok && !(opts.allowNotFound && res.status === 404)) {
      const body = (await res.json().catch(() => undefined)) as { error?: { code?: string; message?: string } } | undefined;
      throw new Error(
        `${path.split('?')[0]}: ${body?.error?.message ?? res.statusText} (${res.status}${body?.error?.code ? ` ${body.error.code}` : ''})`,
      );
    }
    return res;
  }

  async json<T>(path: string, init?: RequestInit): Promise<T> {
    return (await (await this.request(path, init)).json()) as T;
  }

  /** Like json(), but a 404 is `undefined` instead of an error. */
  async jsonOrUndefined<T>(path: string, init?: RequestInit): Promise<T | undefined> {
    const res = await this.request(path, init, { allowNotFound: true });
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    return (await res.json()) as T;
  }
}
