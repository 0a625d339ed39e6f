import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { AppError } from './errors.ts';
import { SESSION_COOKIE, SessionStore, readCookie } from './session-store.ts';

/** Who a request acts as when the coordinator has no token configured (nobody is identified). */
export const ANONYMOUS = 'anonymous';

const ZTokenName = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a token name is 1-64 of A-Z a-z 0-9 _ . -');

/**
 * The shortest token accepted. Tokens are compared as sha256 digests, so length does not leak,
 * but a short one is guessable; generate them with `openssl rand -hex 24`.
 */
export const MIN_TOKEN_LENGTH = 8;

export interface ApiToken {
  name: string;
  /** sha256 of the token: compared (fixed length) in constant time, and the fingerprint a session is bound to. */
  digest: Buffer;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Parses `CMBN_API_TOKENS` (+ `CMBN_API_TOKEN` as `default`). Throws a readable error for an entry
 * without `name:`, a bad name, a token shorter than MIN_TOKEN_LENGTH, or a name or token given
 * twice. The error never echoes a token, nor the name part of a malformed entry: a token pasted
 * without its `name:` (or with its own `:`) would otherwise be printed, in part, to the log.
 */
export function parseApiTokens(named: string | undefined, single: string | undefined): ApiToken[] {
  const out: ApiToken[] = [];
  const add = (name: string, token: string, where: string) => {
    const n = ZTokenName.safeParse(name);
    if (!n.success) throw new Error(`${where}: bad token name: ${n.error.issues[0]!.message}`);
    if (token.length < MIN_TOKEN_LENGTH) throw new Error(`${where}: the token of "${name}" is ${token.length === 0 ? 'empty' : 'too short'} (at least ${MIN_TOKEN_LENGTH} characters)`);
    const d = digest(token);
    if (out.some((t) => t.name === name)) throw new Error(`${where}: the token name "${name}" is given twice`);
    if (out.some((t) => t.digest.equals(d))) throw new Error(`${where}: the token of "${name}" is also another name's token`);
    out.push({ name, digest: d });
  };
  if (single) add('default', single.trim(), 'CMBN_API_TOKEN');
  for (const [i, entry] of (named ?? '').split(',').entries()) {
    const e = entry.trim();
    if (e === '') continue;
    const colon = e.indexOf(':');
    if (colon <= 0) throw new Error(`CMBN_API_TOKENS: entry ${i + 1} is not name:token`);
    add(e.slice(0, colon), e.slice(colon + 1), `CMBN_API_TOKENS entry ${i + 1}`);
  }
  return out;
}

/**
 * The configured tokens and the way a request proves one: `Authorization: Bearer <token>`, or the
 * console's session cookie (an EventSource cannot send headers).
 */
export class Auth {
  constructor(
    readonly tokens: ApiToken[],
    readonly sessions: SessionStore,
    /** CMBN_PUBLIC_URL's origin: what a browser's Origin must be; else the request's Host (behind `trust proxy`, X-Forwarded-Host). */
    readonly publicOrigin?: string,
  ) {}

  get enabled(): boolean {
    return this.tokens.length > 0;
  }

  /**
   * The name of the token, or undefined. Every configured token is compared (no early exit), each
   * comparison of two fixed-length digests in constant time, so the timing tells nothing of which
   * token, or how much of one, matched.
   */
  principalOfToken(token: string): string | undefined {
    const d = digest(token);
    let found: string | undefined;
    for (const t of this.tokens) if (timingSafeEqual(t.digest, d) && found === undefined) found = t.name;
    return found;
  }

  /** The session's principal while its token is still configured unchanged (a rotated or removed token ends its sessions). */
  async principalOfSession(sessionId: string): Promise<string | undefined> {
    const s = await this.sessions.get(sessionId);
    if (!s) return undefined;
    const t = this.tokens.find((x) => x.name === s.principal);
    if (!t || !timingSafeEqual(t.digest.subarray(0, 16), Buffer.from(s.tokenFingerprint, 'hex'))) return undefined;
    return s.principal;
  }

  /** Sets `res.locals.principal` (and `res.locals.authVia`) or fails with 401. */
  middleware(): RequestHandler {
    return (req, res, next) => {
      this.authenticate(req).then(
        (r) => {
          res.locals.principal = r.principal;
          res.locals.authVia = r.via;
          next();
        },
        next,
      );
    };
  }

  /**
   * A proxy rewrites Host to the upstream's address, so behind one the Origin matches only the
   * public URL (CMBN_PUBLIC_URL) or, with `trust proxy`, the forwarded host that Express's req.host reads.
   */
  sameOrigin(req: Request): boolean {
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    try {
      const o = new URL(origin);
      return this.publicOrigin !== undefined ? o.origin === this.publicOrigin : o.host === req.host;
    } catch {
      return false;
    }
  }

  async authenticate(req: Request): Promise<{ principal: string; via: 'none' | 'token' | 'session' }> {
    if (!this.enabled) return { principal: ANONYMOUS, via: 'none' };
    const header = req.headers.authorization;
    if (header !== undefined) {
      // A request that sends a header is judged by it alone, whatever cookie it also carries.
      const m = /^Bearer\s+(.+)$/i.exec(header);
      const name = m ? this.principalOfToken(m[1]!.trim()) : undefined;
      if (name === undefined) throw new AppError('UNAUTHORIZED', m ? 'invalid API token' : 'the Authorization header is not "Bearer <token>"');
      return { principal: name, via: 'token' };
    }
    const sid = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (sid !== undefined) {
      const name = await this.principalOfSession(sid);
      if (name === undefined) throw new AppError('UNAUTHORIZED', 'the console session has expired or was ended: log in again');
      // SameSite=Strict keeps other sites' pages from sending the cookie; an Origin that is not
      // ours on a state-changing request is refused too (older browsers, misconfigured proxies).
      if (!['GET', 'HEAD', 'OPTIONS'].includes(req.method) && !this.sameOrigin(req)) {
        throw new AppError('UNAUTHORIZED', 'a cross-origin request cannot use the console session');
      }
      return { principal: name, via: 'session' };
    }
    throw new AppError('UNAUTHORIZED', 'missing API token: send Authorization: Bearer <token> (CMBN_API_TOKENS / CMBN_API_TOKEN), or log in with POST /v1/session');
  }
}

/**
 * The app's Auth from env.ts' values (ZCoordinatorEnv, passed through startCoordinator): the single
 * token `apiToken` (CMBN_API_TOKEN) as `default` plus the named `apiTokens` (CMBN_API_TOKENS),
 * sessions in the queues' Redis. Throws at boot for a malformed token list.
 */
export function createAuth(o: { apiToken?: string; apiTokens?: string; redis: Redis; prefix: string; sessionTtlS: number; publicUrl?: string }): Auth {
  return new Auth(parseApiTokens(o.apiTokens, o.apiToken), new SessionStore(o.redis, o.prefix, o.sessionTtlS), o.publicUrl);
}
