import express, { type ErrorRequestHandler, type Express } from 'express';
import type { Logger } from 'pino';
import type { ArtifactStore } from '@cmbn/artifacts';
import { createAuth } from './auth.ts';
import { consoleApiRouter } from './console-api.ts';
import { consoleRouter } from './console-routes.ts';
import { AppError, toErrorResponse } from './errors.ts';
import type { Orchestrator } from './orchestrator.ts';
import type { ProgressBus } from './progress-bus.ts';
import type { Queues } from './queues.ts';
import { datasetsRouter } from './routes/datasets.ts';
import type { GcService } from './gc-service.ts';
import { modelsRouter } from './routes/models.ts';
import { openApiHandler } from './routes/openapi.ts';
import { opsRouter } from './routes/ops.ts';
import { runsRouter } from './routes/runs.ts';
import { sessionRouter } from './session-routes.ts';
import { authFailureLimiter, type AuthFailureLimit } from './auth-limit.ts';

export interface AppDeps {
  orchestrator: Orchestrator;
  /** The artifact sweeps (POST/GET /v1/gc). */
  gc: GcService;
  store: ArtifactStore;
  queues: Queues;
  bus: ProgressBus;
  logger: Logger;
  /** CMBN_API_TOKEN (the principal `default`); with `apiTokens`, when any is set /v1 requires one (auth.ts). */
  apiToken?: string;
  /** CMBN_API_TOKENS, `name:token,…`. */
  apiTokens?: string;
  /** CMBN_SESSION_TTL_S. */
  sessionTtlS: number;
  /** CMBN_TRUST_PROXY: Express's `trust proxy` (req.ip, req.secure and req.host then read the proxy's X-Forwarded-* headers). */
  trustProxy: boolean | number | string;
  /** CMBN_PUBLIC_URL's origin (auth.ts' Origin check, the session cookie's Secure flag). */
  publicUrl?: string;
  /** CMBN_AUTH_FAIL_LIMIT / CMBN_AUTH_FAIL_WINDOW_S (auth-limit.ts). */
  authFailureLimit: AuthFailureLimit;
  maxUploadBytes: number;
}

/**
 * The HTTP API. Every error is `{ error: { code, message } }` with the status of errors.ts' table;
 * a 5xx adds an `errorId` and carries no internal text (the details are logged under that id).
 */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.trustProxy);
  app.use((req, res, next) => {
    const t0 = performance.now();
    res.on('finish', () =>
      deps.logger.debug({ method: req.method, url: req.originalUrl, status: res.statusCode, ms: Math.round(performance.now() - t0) }, 'request'),
    );
    next();
  });
  app.use(opsRouter(deps));
  app.get('/openapi.json', openApiHandler());
  const v1 = express.Router();
  const auth = createAuth({
    apiToken: deps.apiToken,
    apiTokens: deps.apiTokens,
    redis: deps.queues.connection,
    prefix: deps.queues.prefix,
    sessionTtlS: deps.sessionTtlS,
    publicUrl: deps.publicUrl,
  });
  // Around the login route and the auth middleware: refuses an address over the limit, counts their 401s.
  const authLimit = authFailureLimiter({ ...deps.authFailureLimit, redis: deps.queues.connection, prefix: deps.queues.prefix, enabled: auth.enabled, logger: deps.logger });
  v1.use(authLimit.check);
  v1.use(sessionRouter(auth));
  v1.use(auth.middleware());
  v1.use(authLimit.count);
  v1.use(datasetsRouter(deps));
  v1.use(runsRouter(deps));
  v1.use(modelsRouter(deps));
  v1.use(consoleApiRouter(deps));
  app.use('/v1', v1);
  app.use(consoleRouter());
  app.use((req, _res, next) => next(new AppError('NOT_FOUND', `no route ${req.method} ${req.path}`)));
  const onError: ErrorRequestHandler = (err, req, res, _next) => {
    const { status, body, errorId } = toErrorResponse(err);
    // The full error (message, stack, Prisma's invocation text) goes only to the log, under the
    // errorId the client was given.
    if (status >= 500) deps.logger.error({ err, errorId, method: req.method, url: req.originalUrl, status, code: body.error.code }, 'request failed');
    if (res.headersSent) {
      // Part of a body is out: ending it normally would pass a truncated download off as complete.
      res.destroy();
      return;
    }
    res.status(status).json(body);
  };
  app.use(onError);
  return app;
}
