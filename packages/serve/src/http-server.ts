/**
 * One HTTP server process: a holder, its metrics and the express app on a node:http server with
 * bounded timeouts (a slow or stalled client cannot hold a request open for long).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { createServeApp } from './app.ts';
import { ModelHolder } from './holder.ts';
import { ServeMetrics, type MetricsSnapshot } from './metrics.ts';

export interface HttpServeOptions {
  host: string;
  port: number;
  maxBodyBytes: number;
  logger: Logger;
  /** Whole-request limit (headers and body), ms. */
  requestTimeoutMs?: number;
  collectMetrics?: () => Promise<{ snapshot: MetricsSnapshot; workers: number }>;
}

export interface HttpServe {
  holder: ModelHolder;
  metrics: ServeMetrics;
  server: Server;
  listen(): Promise<number>;
  close(): Promise<void>;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export function createHttpServe(o: HttpServeOptions): HttpServe {
  const holder = new ModelHolder((err) => o.logger.error({ err }, 'disposing a retired model failed'));
  const metrics = new ServeMetrics();
  const app = createServeApp({ holder, metrics, logger: o.logger, maxBodyBytes: o.maxBodyBytes, ...(o.collectMetrics ? { collectMetrics: o.collectMetrics } : {}) });
  const requestTimeout = o.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const server = createServer(
    {
      requestTimeout,
      headersTimeout: Math.min(10_000, requestTimeout),
      // Node checks those timeouts only this often (default 30 s, which would double the bound).
      connectionsCheckingInterval: Math.min(1_000, requestTimeout),
    },
    app,
  );
  server.keepAliveTimeout = 5_000;
  return {
    holder,
    metrics,
    server,
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(o.port, o.host, () => {
          server.off('error', reject);
          resolve((server.address() as AddressInfo).port);
        });
      }),
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // Requests still running get the grace period of the caller's shutdown; then they are cut.
        setTimeout(() => server.closeAllConnections(), 2_000).unref();
      });
      await holder.close();
    },
  };
}
