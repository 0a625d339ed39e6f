import type { RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import { AppError } from './errors.ts';

export interface AuthFailureLimit {
  /** Failed authentications (401s) one client address may make per window; 0 turns the limit off. */
  limit: number;
  windowS: number;
}

/**
 * Brute-force guard for the API tokens: every /v1 request that ends in 401 (a wrong token on
 * POST /v1/session, a wrong Bearer token, a dead session cookie) counts against its client address
 * (req.ip, so behind a proxy set CMBN_TRUST_PROXY; IPv6 by /56, express-rate-limit's default). Past
 * `limit` in `windowS` seconds, every /v1 request from that address gets 429 RATE_LIMITED with
 * Retry-After until the window ends, a right token included: a limit that let a right guess through
 * would not limit guessing. Requests that succeed (or fail otherwise) are not counted.
 *
 * The counters live in Redis, so every coordinator behind one Redis shares them. While Redis is
 * away the guard lets requests through rather than hold them (the queues' connection would queue
 * the command for the whole outage) and logs once per outage: the tokens are still checked, only
 * their guessing rate is unbounded for that time.
 */
export function authFailureLimiter(o: AuthFailureLimit & { redis: Redis; prefix: string; enabled: boolean; logger: Logger }): RequestHandler {
  if (!o.enabled || o.limit === 0) return (_req, _res, next) => next();
  let warned = false;
  const limiter = rateLimit({
    windowMs: o.windowS * 1000,
    limit: o.limit,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    // Count only the requests that ended in 401: "successful" here means "not a failed authentication".
    skipSuccessfulRequests: true,
    requestWasSuccessful: (_req, res) => res.statusCode !== 401,
    skip: () => {
      const up = o.redis.status === 'ready';
      if (!up && !warned) o.logger.warn('auth failure limit suspended: Redis is unavailable');
      warned = !up;
      return !up;
    },
    passOnStoreError: true,
    store: new RedisStore({
      prefix: `${o.prefix}:authfail:`,
      sendCommand: (command: string, ...args: string[]) => o.redis.call(command, ...args) as Promise<RedisReply>,
    }),
    handler: (_req, res, next) => {
      const retryS = Number(res.getHeader('retry-after') ?? o.windowS);
      next(new AppError('RATE_LIMITED', `too many failed authentications from this address; retry in ${retryS} s`, { retryAfterSeconds: retryS }));
    },
  });
  return limiter;
}
