import { Router, type Request, type Response } from 'express';
import { ZLoginBody } from '@cmbn/api';
import type { Auth } from './auth.ts';
import { AppError } from './errors.ts';
import { jsonBody } from './routes/validation.ts';
import { SESSION_COOKIE, readCookie } from './session-store.ts';

function cookieOptions(req: Request, maxAgeMs?: number) {
  // Secure when the request came over TLS (req.secure honours `trust proxy` if an operator sets it):
  // a plain-http coordinator on a laptop must still be able to set its cookie.
  return { httpOnly: true, sameSite: 'strict' as const, path: '/', secure: req.secure, ...(maxAgeMs !== undefined ? { maxAge: maxAgeMs } : {}) };
}

/**
 * The console's login, mounted under /v1 before the auth middleware: a browser's EventSource
 * cannot send an Authorization header, so the page exchanges the token once for an HttpOnly,
 * SameSite=Strict session cookie that the auth middleware accepts wherever it accepts the token.
 *
 * - `POST /v1/session {token}` → 200 `{principal, expiresAt}` + Set-Cookie; 401 for a wrong token.
 * - `DELETE /v1/session` → 204; ends the session in Redis and clears the cookie.
 * - `GET /v1/session` → `{principal, via, authRequired}` (401 when not authenticated): what the page asks first.
 */
export function sessionRouter(auth: Auth): Router {
  const r = Router();

  r.post('/session', ...jsonBody('16kb'), async (req, res: Response) => {
    const { token } = ZLoginBody.parse(req.body ?? {});
    if (!auth.enabled) {
      res.json({ principal: 'anonymous', expiresAt: null, authRequired: false });
      return;
    }
    const principal = auth.principalOfToken(token);
    if (principal === undefined) throw new AppError('UNAUTHORIZED', 'invalid API token');
    const t = auth.tokens.find((x) => x.name === principal)!;
    const { id, session } = await auth.sessions.create(principal, t.digest);
    res.cookie(SESSION_COOKIE, id, cookieOptions(req, auth.sessions.ttlSeconds * 1000));
    res.json({ principal, expiresAt: session.expiresAt, authRequired: true });
  });

  r.delete('/session', async (req, res) => {
    const sid = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (sid !== undefined && auth.enabled) await auth.sessions.delete(sid);
    res.clearCookie(SESSION_COOKIE, cookieOptions(req));
    res.status(204).end();
  });

  r.get('/session', async (req, res) => {
    const { principal, via } = await auth.authenticate(req);
    res.json({ principal, via, authRequired: auth.enabled });
  });

  return r;
}
