import { Router, type Request, type Response } from 'express';
import { ZLoginBody, type TLogin, type TSessionState } from '@cmbn/api';
import type { Auth } from './auth.ts';
import { AppError } from './errors.ts';
import { jsonBody } from './routes/validation.ts';
import { SESSION_COOKIE, readCookie } from './session-store.ts';

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/**
 * Secure unless the browser is known to talk plain http on purpose: with CMBN_PUBLIC_URL, exactly
 * when it is https; without it, whenever the request came over TLS (req.secure, which believes a
 * proxy's X-Forwarded-Proto only under CMBN_TRUST_PROXY) or from a host that is not loopback. A
 * plain-http coordinator on a laptop (localhost) can still set its cookie; on any other host a
 * session id never travels in the clear (browsers drop a Secure cookie over http: serve the console
 * through TLS, or set CMBN_PUBLIC_URL=http://… to accept that risk explicitly).
 */
export function secureCookie(req: Request, publicOrigin: string | undefined): boolean {
  if (publicOrigin !== undefined) return publicOrigin.startsWith('https:');
  return req.secure || !LOOPBACK_HOSTS.has(req.hostname);
}

function cookieOptions(req: Request, publicOrigin: string | undefined, maxAgeMs?: number) {
  return { httpOnly: true, sameSite: 'strict' as const, path: '/', secure: secureCookie(req, publicOrigin), ...(maxAgeMs !== undefined ? { maxAge: maxAgeMs } : {}) };
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
      res.json({ principal: 'anonymous', expiresAt: null, authRequired: false } satisfies TLogin);
      return;
    }
    const principal = auth.principalOfToken(token);
    if (principal === undefined) throw new AppError('UNAUTHORIZED', 'invalid API token');
    const t = auth.tokens.find((x) => x.name === principal)!;
    const { id, session } = await auth.sessions.create(principal, t.digest);
    res.cookie(SESSION_COOKIE, id, cookieOptions(req, auth.publicOrigin, auth.sessions.ttlSeconds * 1000));
    res.json({ principal, expiresAt: session.expiresAt, authRequired: true } satisfies TLogin);
  });

  r.delete('/session', async (req, res) => {
    const sid = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (sid !== undefined && auth.enabled) await auth.sessions.delete(sid);
    res.clearCookie(SESSION_COOKIE, cookieOptions(req, auth.publicOrigin));
    res.status(204).end();
  });

  r.get('/session', async (req, res) => {
    const { principal, via } = await auth.authenticate(req);
    res.json({ principal, via, authRequired: auth.enabled } satisfies TSessionState);
  });

  return r;
}
