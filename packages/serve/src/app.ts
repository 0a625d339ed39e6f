/**
 * The scoring server's HTTP edge (express 5): MLflow's /invocations, /ping, /health, /version,
 * and Prometheus /metrics. Every error leaves through toErrorResponse as {error:{code,message}}.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { ServeError, toErrorResponse } from './errors.ts';
import type { ModelHolder } from './holder.ts';
import { renderMetrics, type MetricsSnapshot, type ServeMetrics } from './metrics.ts';
import { SUPPORTED_TYPES, formatOf, parseBody } from './parse-input.ts';
import type { ServedVersion } from './served-model.ts';

export interface ServeAppOptions {
  holder: ModelHolder;
  metrics: ServeMetrics;
  logger: Logger;
  /** Largest accepted /invocations body, bytes (413 above it). */
  maxBodyBytes: number;
  /** The scrape: this process's metrics, or (with --workers) every worker's, summed. */
  collectMetrics?: () => Promise<{ snapshot: MetricsSnapshot; workers: number }>;
}

const ROUTES: Record<string, string> = { '/invocations': 'POST', '/ping': 'GET', '/health': 'GET', '/version': 'GET', '/metrics': 'GET' };

export function versionBody(info: ServedVersion): Record<string, unknown> {
  return {
    name: info.name ?? null,
    version: info.version ?? null,
    model: info.name !== undefined ? `${info.name}:${info.version}` : info.source,
    source: info.source,
    artifactSha256: info.artifactSha256,
    loadedAt: info.loadedAt,
    precision: info.precision,
    signature: info.signature,
    // Which server process answered (with --workers N there are N).
    pid: process.pid,
  };
}

function parseProbabilities(q: unknown): boolean {
  if (q === undefined) return false;
  if (q === 'true' || q === '1') return true;
  if (q === 'false' || q === '0') return false;
  throw new ServeError('BAD_REQUEST', `probabilities must be true or false, got ${JSON.stringify(q)}`);
}

export function createServeApp(o: ServeAppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', 'simple');

  app.use((req, res, next) => {
    const t0 = process.hrtime.bigint();
    const route = ROUTES[req.path] !== undefined ? req.path : 'other';
    res.on('finish', () => o.metrics.request(route, res.statusCode, Number(process.hrtime.bigint() - t0) / 1e9));
    next();
  });

  const model = () => {
    const m = o.holder.current;
    if (!m) throw new ServeError('UNAVAILABLE', 'no model is loaded yet');
    return m;
  };

  app.get('/ping', (_req, res) => {
    model();
    res.type('text/plain').send('\n');
  });
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok', model: versionBody(model().info) });
  });
  app.get('/version', (_req, res) => {
    res.json(versionBody(model().info));
  });
  app.get('/metrics', async (_req, res) => {
    const { snapshot, workers } = o.collectMetrics ? await o.collectMetrics() : { snapshot: o.metrics.snapshot(), workers: 1 };
    res.type('text/plain; version=0.0.4').send(renderMetrics(snapshot, workers));
  });

  const checkType = (req: Request, _res: Response, next: NextFunction) => {
    if (formatOf(req.get('content-type')) === undefined) {
      throw new ServeError('UNSUPPORTED_MEDIA_TYPE', `Content-Type ${JSON.stringify(req.get('content-type') ?? '')} is not accepted; send ${SUPPORTED_TYPES}`);
    }
    next();
  };
  // One raw reader for every format (the limit applies before any parsing); the format decides the parser.
  const raw = express.raw({ type: () => true, limit: o.maxBodyBytes });
  app.post('/invocations', checkType, raw, async (req, res) => {
    const probabilities = parseProbabilities(req.query.probabilities);
    const body: unknown = req.body;
    const bytes = body instanceof Uint8Array ? body : new Uint8Array(0);
    // The lease is taken before parsing so that the signature checked is the one that predicts.
    const lease = o.holder.acquire();
    if (!lease) throw new ServeError('UNAVAILABLE', 'no model is loaded yet');
    try {
      const x = parseBody(bytes, formatOf(req.get('content-type'))!, lease.model.info.signature);
      o.metrics.batch(x.rows);
      const out = await lease.model.predict(x, { probabilities });
      res.json(out);
    } finally {
      lease.release();
    }
  });

  app.use((req, _res, next) => {
    const allowed = ROUTES[req.path];
    next(
      allowed !== undefined
        ? new ServeError('METHOD_NOT_ALLOWED', `${req.method} ${req.path} is not supported; use ${allowed}`)
        : new ServeError('NOT_FOUND', `no route ${req.method} ${req.path}; the routes are POST /invocations, GET /ping, /health, /version, /metrics`),
    );
  });

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const { status, body } = toErrorResponse(err);
    if (status >= 500) o.logger.error({ err, path: req.path }, 'request failed');
    if (status === 405) res.set('allow', ROUTES[req.path]!);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.status(status).json(body);
  });
  return app;
}
