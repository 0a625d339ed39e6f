import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import { AppError } from './errors.ts';

export interface AuthFailureLimit {
  /** Failed authentications (401s) one client address may make per window; 0 turns the limit off. */
  limit: number;
  windowS: number;
}

export interface AuthFailureLimiter {
  /** Before the login route and the auth middleware: refuses an address that is over the limit. */
  check: RequestHandler;
  /** Right after them: counts each failed authentication (an UNAUTHORIZED error) before it is answered. */
  count: ErrorRequestHandler;
}

/**
 * Brute-force guard for the API tokens: every /v1 request that fails authentication (a wrong token
 * on POST /v1/session, a wrong Bearer token, a dead session cookie) counts against its client
 * address (req.ip, so behind a proxy set CMBN_TRUST_PROXY; IPv6 by /56, express-rate-limit's key).
 * Past `limit` in `windowS` seconds, every /v1 request from that address gets 429 RATE_LIMITED with
 * Retry-After until the window ends, a right token included: a limit that let a right guess through
 * would not limit guessing. Requests that succeed (or fail otherwise) are not counted.
 *
 * Check, then count: a request reads its address's counter once (one Redis round trip), and only a
 * failed authentication increments it, awaited before the 401 is sent, so the client's next request
 * sees it. (express-rate-limit's skipSuccessfulRequests would increment every request and decrement
 * the successes: two round trips on the polling path, GET /v1/runs/:id, for nothing.) Requests in
 * flight count too, per coordinator: an address with `hits` failures and `f` requests unanswered
 * is refused when hits + f ≥ limit, so parallel guesses cannot all pass on one stale read. (Behind
 * N coordinators each admits its own in-flight share: up to N × the allowance left, at once.)
 *
 * The counters live in Redis (rate-limit-redis's store: an expiring counter per key), so every
 * coordinator behind one Redis shares them. While Redis is away the guard lets requests through
 * rather than hold them (the queues' connection would queue the command for the whole outage) and
 * logs once per outage: the tokens are still checked, only their guessing rate is unbounded then.
 */
export function authFailureLimiter(o: AuthFailureLimit & { redis: Redis; prefix: string; enabled: boolean; logger: Logger }): AuthFailureLimiter {
  if (!o.enabled || o.limit === 0) return { check: (_req, _res, next) => next(), count: (err, _req, _res, next) => next(err) };
  const store = new RedisStore({
    prefix: `${o.prefix}:authfail:`,
    sendCommand: (command: string, ...args: string[]) => o.redis.call(command, ...args) as Promise<RedisReply>,
  });
  store.init({ windowMs: o.windowS * 1000 } as Parameters<RedisStore['init']>[0]);
  let warned = false;
  const redisUp = (): boolean => {
    const up = o.redis.status === 'ready';
    if (!up && !warned) o.logger.warn('auth failure limit suspended: Redis is unavailable');
    warned = !up;
    return up;
  };
  const storeFailed = (e: unknown): void => o.logger.warn({ err: e }, 'auth failure limit: the Redis store failed; request let through');
  const key = (req: Request): string => ipKeyGenerator(req.ip ?? req.socket.remoteAddress ?? 'unknown');

  // Requests admitted and not yet answered, per address, on this coordinator: without them, C
  // parallel guesses would all read the same counter before any increment landed (limit + C).
  const inFlight = new Map<string, number>();
  const admit = (k: string, res: Response): void => {
    inFlight.set(k, (inFlight.get(k) ?? 0) + 1);
    res.once('close', () => {
      const left = (inFlight.get(k) ?? 1) - 1;
      if (left > 0) inFlight.set(k, left);
      else inFlight.delete(k);
    });
  };
  const refuse = (res: Response, next: NextFunction, retryS: number): void => {
    res.setHeader('Retry-After', String(retryS));
    next(new AppError('RATE_LIMITED', `too many failed authentications from this address; retry in ${retryS} s`, { retryAfterSeconds: retryS }));
  };

  const check: RequestHandler = (req, res, next) => {
    if (!redisUp()) return next();
    const k = key(req);
    store.get(k).then(
      (info) => {
        // A missing key reads back as NaN hits (ioredis returns the Lua nil as null): no failures yet.
        const hits = info !== undefined && Number.isFinite(info.totalHits) ? info.totalHits : 0;
        if (hits >= o.limit) {
          return refuse(res, next, Math.max(1, Math.ceil(((info?.resetTime?.getTime() ?? Date.now() + o.windowS * 1000) - Date.now()) / 1000)));
        }
        // Each request in flight might be a failure still to be counted: refuse those past the limit.
        if (hits + (inFlight.get(k) ?? 0) >= o.limit) return refuse(res, next, 1);
        admit(k, res);
        next();
      },
      (e: unknown) => {
        storeFailed(e);
        next();
      },
    );
  };
  const count: ErrorRequestHandler = (err, req, _res, next) => {
    if (!(err instanceof AppError) || err.code !== 'UNAUTHORIZED' || !redisUp()) return next(err);
    store.increment(key(req)).then(
      () => next(err),
      (e: unknown) => {
        storeFailed(e);
        next(err);
      },
    );
  };
  return { check, count };
}
