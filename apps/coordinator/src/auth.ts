import { timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { AppError } from './errors.ts';

/** When a token is configured, requests must carry `Authorization: Bearer <token>`. */
export function requireToken(token: string | undefined): RequestHandler {
  if (!token) return (_req, _res, next) => next();
  const want = Buffer.from(token);
  return (req, _res, next) => {
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    const got = Buffer.from(m?.[1]?.trim() ?? '');
    if (got.length === want.length && timingSafeEqual(got, want)) return next();
    next(new AppError('UNAUTHORIZED', m ? 'invalid API token' : 'missing API token: send Authorization: Bearer <CMBN_API_TOKEN>'));
  };
}
