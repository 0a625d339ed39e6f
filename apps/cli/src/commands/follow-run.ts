import type { TrainProgress } from '@cmbn/mbn';
import { ApiError, type ApiClient } from '../api-client.ts';

const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);
/** The server sends a `: ping` every 15 s: a stream silent for this long is dead (a host that vanished without a reset). */
const SSE_IDLE_MS = 45_000;
const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 5_000;
/** Default of --reconnect-timeout / CMBN_RECONNECT_TIMEOUT, in seconds. */
export const DEFAULT_RECONNECT_TIMEOUT_S = 300;

export interface FollowOptions {
  /** How long the coordinator may stay unreachable before the CLI gives up. */
  reconnectTimeoutMs: number;
  onProgress(p: TrainProgress): void;
  /** One line for people (stderr). */
  notice(line: string): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Anything that means "no usable answer this time": network failures, a body cut off, a restarting coordinator. */
function isTransient(err: unknown): boolean {
  if (err instanceof ApiError) return err.transient;
  // fetch's body reads fail with a TypeError ("terminated") when the connection drops mid-body.
  return err instanceof TypeError || (err as { name?: string } | null)?.name === 'AbortError' || (err as { name?: string } | null)?.name === 'TimeoutError';
}

/**
 * Follows a run on a coordinator that may restart under it: the SSE stream while it lasts,
 * `GET /v1/runs/:id` to learn where the run stands after it breaks, reconnecting with backoff. The
 * coordinator keeps the run in Postgres and Redis, so a restarted one answers for the same run.
 * One line is printed when the coordinator stops answering and one when it is back; after
 * `reconnectTimeoutMs` without an answer the follower gives up.
 */
export class RunFollower {
  private lostSince: number | undefined;

  constructor(
    private readonly client: ApiClient,
    private readonly runId: string,
    private readonly opts: FollowOptions,
  ) {}

  /** Resolves with the run's view once it is terminal. */
  async untilTerminal<T extends { status: string }>(): Promise<T> {
    let streamBackoff = 0;
    for (;;) {
      const openedAt = Date.now();
      await this.retrying('the run event stream', () => this.stream());
      // The stream ended (terminal status, or broken): ask where the run stands.
      const run = await this.retrying('the run status', () => this.client.json<T>(`/v1/runs/${this.runId}`));
      if (TERMINAL.has(run.status)) return run;
      // A stream that keeps breaking while the coordinator answers (a proxy, say) is reopened with backoff.
      streamBackoff = Date.now() - openedAt > 30_000 ? 0 : Math.min(BACKOFF_MAX_MS, Math.max(BACKOFF_MIN_MS, streamBackoff * 2));
      await sleep(streamBackoff);
    }
  }

  /** `fn` until it succeeds or fails for good; transient failures are retried for reconnectTimeoutMs. */
  async retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let backoff = BACKOFF_MIN_MS;
    for (;;) {
      try {
        const r = await fn();
        this.back();
        return r;
      } catch (err) {
        if (!isTransient(err)) throw err;
        this.lost(err);
        const downMs = Date.now() - this.lostSince!;
        if (downMs > this.opts.reconnectTimeoutMs) {
          throw new Error(
            `gave up on run ${this.runId}: the coordinator at ${this.client.base} did not answer for ${Math.round(downMs / 1000)} s (${what}: ${(err as Error).message}); ` +
              `the run may still be going: check it with GET /v1/runs/${this.runId}, or raise --reconnect-timeout`,
          );
        }
        await sleep(backoff);
        backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
      }
    }
  }

  private lost(err: unknown): void {
    if (this.lostSince !== undefined) return;
    this.lostSince = Date.now();
    this.opts.notice(
      `connection to the coordinator at ${this.client.base} lost (${(err as Error).message.split('\n')[0]}); reconnecting for up to ${Math.round(this.opts.reconnectTimeoutMs / 1000)} s`,
    );
  }

  private back(): void {
    if (this.lostSince === undefined) return;
    this.opts.notice(`connection to the coordinator is back after ${((Date.now() - this.lostSince) / 1000).toFixed(1)} s; following run ${this.runId}`);
    this.lostSince = undefined;
  }

  /**
   * Reads the SSE stream until a terminal status (true) or until it breaks or goes silent
   * (false). Throws (ApiError) only when it cannot be opened.
   */
  private async stream(): Promise<boolean> {
    const idle = new AbortController();
    const res = await this.client.request(`/v1/runs/${this.runId}/events`, { headers: { accept: 'text/event-stream' }, signal: idle.signal });
    if (!res.body) return false;
    let timer = setTimeout(() => idle.abort(), SSE_IDLE_MS);
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        clearTimeout(timer);
        timer = setTimeout(() => idle.abort(), SSE_IDLE_MS);
        buf += decoder.decode(chunk, { stream: true });
        let cut: number;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const data = block
            .split('\n')
            .filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5).trim())
            .join('\n');
          if (!data) continue;
          const ev = JSON.parse(data) as { type: string; progress?: TrainProgress; status?: string };
          if (ev.type === 'progress' && ev.progress) this.opts.onProgress(ev.progress);
          if (ev.type === 'status' && ev.status && TERMINAL.has(ev.status)) return true;
        }
      }
      return false;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
      idle.abort();
    }
  }
}
