import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { AppError } from './errors.ts';

/** The console's session cookie: HttpOnly, SameSite=Strict, Path=/ (set by POST /v1/session). */
export const SESSION_COOKIE = 'cmbn_session';

const ZSession = z.object({
  principal: z.string(),
  /** First 16 bytes of the token's sha256: a session ends when its token is rotated or removed. */
  tokenFingerprint: z.string().regex(/^[0-9a-f]{32}$/),
  createdAt: z.string(),
  expiresAt: z.string(),
});
export type TSession = z.infer<typeof ZSession>;

/**
 * Console sessions in Redis (the coordinator's own connection), so that logging out really ends a
 * session, every coordinator behind one Redis accepts it, and expiry is Redis' TTL. The key is the
 * sha256 of the session id: the id itself (the cookie's value, 256 random bits) is stored nowhere,
 * so reading Redis does not give anyone a usable cookie.
 */
export class SessionStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    readonly ttlSeconds: number,
  ) {}

  /**
   * The queues' connection queues commands while Redis is down (maxRetriesPerRequest: null), which
   * would hold a login or an authenticated request open for the whole outage: answer 503 instead.
   */
  private ready(): void {
    if (this.redis.status !== 'ready') throw new AppError('UNAVAILABLE', 'the session store (Redis) is unavailable; use the Bearer token or retry');
  }

  private key(id: string): string {
    return `${this.prefix}:session:${createHash('sha256').update(id).digest('hex')}`;
  }

  async create(principal: string, tokenDigest: Buffer): Promise<{ id: string; session: TSession }> {
    const id = randomBytes(32).toString('base64url');
    const now = Date.now();
    const session: TSession = {
      principal,
      tokenFingerprint: tokenDigest.subarray(0, 16).toString('hex'),
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + this.ttlSeconds * 1000).toISOString(),
    };
    this.ready();
    await this.redis.set(this.key(id), JSON.stringify(session), 'EX', this.ttlSeconds);
    return { id, session };
  }

  async get(id: string): Promise<TSession | undefined> {
    // Anything that is not one of our ids is not looked up (bounded key length, no odd bytes).
    if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return undefined;
    this.ready();
    const raw = await this.redis.get(this.key(id));
    if (raw === null) return undefined;
    // A value that is not our JSON (written by something else, truncated) is no session: the
    // request gets the 401 of an unknown session, not a 500.
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      return undefined;
    }
    const r = ZSession.safeParse(value);
    return r.success ? r.data : undefined;
  }

  async delete(id: string): Promise<void> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return;
    this.ready();
    await this.redis.del(this.key(id));
  }
}

/** The value of one cookie in a `Cookie` header, or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    return part.slice(eq + 1).trim();
  }
  return undefined;
}
