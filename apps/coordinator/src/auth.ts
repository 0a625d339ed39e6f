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
 * The auth part of the coordinator's environment. `CMBN_API_TOKENS` and `CMBN_API_TOKEN` may both
 * be set; the single token is the principal `default`.
 */
export const ZAuthEnv = z.object({
  /** Named API tokens, `name:token,name2:token2`; the name is recorded as the principal (e.g. who moved an alias). */
  CMBN_API_TOKENS: z.string().optional(),
  /** One unnamed API token (older setting): accepted as the principal `default`. */
  CMBN_API_TOKEN: z.string().optional(),
  /** Lifetime of a console session cookie (POST /v1/session), in seconds. */
  CMBN_SESSION_TTL_S: z.coerce.number().int().min(60).max(30 * 86_400).default(12 * 3600),
});
export type TAuthEnv = z.infer<typeof ZAuthEnv>;

export interface ApiToken {
  name: string;
  /** sha256 of the token: compared (fixed length) in constant time, and the fingerprint a session is bound to. */
  digest: Buffer;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Parses `CMBN_API_TOKENS` (+ `CMBN_API_TOKEN` as `default`). Throws a readable error (never
 * echoing a token) for an entry without `name:`, a bad name, an empty token, or a name or token
 * given twice.
 */
export function parseApiTokens(named: string | undefined, single: string | undefined): ApiToken[] {
  const out: ApiToken[] = [];
  const add = (name: string, token: string, where: string) => {
    const n = ZTokenName.safeParse(name);
    if (!n.success) throw new Error(`${where}: bad token name "${name.slice(0, 64)}": ${n.error.issues[0]!.message}`);
    if (token.length === 0) throw new Error(`${where}: the token of "${name}" is empty`);
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
    add(e.slice(0, colon), e.slice(colon + 1), 'CMBN_API_TOKENS');
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
      if (!['GET', 'HEAD', 'OPTIONS'].includes(req.method) && !sameOrigin(req)) {
        throw new AppError('UNAUTHORIZED', 'a cross-origin request cannot use the console session');
      }
      return { principal: name, via: 'session' };
    }
    throw new AppError('UNAUTHORIZED', 'missing API token: send Authorization: Bearer <token> (CMBN_API_TOKENS / CMBN_API_TOKEN), or log in with POST /v1/session');
  }
}

function sameOrigin(req: Request): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/**
 * The app's Auth: the single token (`apiToken`, from env.ts' CMBN_API_TOKEN) as `default`, plus the
 * named tokens (`apiTokens`, else CMBN_API_TOKENS of the environment), sessions in the queues' Redis.
 * Throws at boot for a malformed token list.
 */
export function createAuth(o: { apiToken?: string; apiTokens?: string; redis: Redis; prefix: string; env?: NodeJS.ProcessEnv }): Auth {
  const r = ZAuthEnv.safeParse(o.env ?? process.env);
  if (!r.success) throw new Error(`coordinator configuration: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const tokens = parseApiTokens(o.apiTokens ?? r.data.CMBN_API_TOKENS, o.apiToken);
  return new Auth(tokens, new SessionStore(o.redis, o.prefix, r.data.CMBN_SESSION_TTL_S));
}
