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
import { readBody } from './read-body.ts';
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

const DRAIN_MS = 1_000;
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
  app.post('/invocations', checkType, async (req, res) => {
    const probabilities = parseProbabilities(req.query.probabilities);
    // One reader for every format (the limit applies before any parsing); the format decides the parser.
    const bytes = await readBody(req, o.maxBodyBytes);
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
    // A body that was not read to its end (over the limit, or refused before reading) may keep
    // arriving: answer, discard what comes for at most DRAIN_MS (so the client, still uploading,
    // can read the answer instead of a reset), then close the connection.
    if (!req.complete) {
      res.set('connection', 'close');
      res.on('finish', () => {
        req.resume();
        setTimeout(() => req.socket.destroy(), DRAIN_MS).unref();
      });
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.status(status).json(body);
  });
  return app;
}
