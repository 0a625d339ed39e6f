import { z } from 'zod';
import { ZTimestamp } from './common.ts';

const ZProbe = z.enum(['ok', 'unreachable', 'timeout']);

export const ZHealth = z
  .object({ status: z.enum(['ok', 'unavailable']), redis: ZProbe, db: ZProbe, store: ZProbe })
  .meta({ id: 'Health' });
export type THealth = z.infer<typeof ZHealth>;

/** The console's login (`POST /v1/session`): a token exchanged for an HttpOnly session cookie. */
export const ZLoginBody = z.object({ token: z.string().min(1).max(4096) }).strict().meta({ id: 'Login' });
export type TLoginBody = z.infer<typeof ZLoginBody>;
/** The session made by a login; expiresAt is null when the coordinator requires no token (no session is made). */
export const ZLogin = z
  .object({ principal: z.string(), expiresAt: ZTimestamp.nullable(), authRequired: z.boolean() })
  .meta({ id: 'Session' });
export type TLogin = z.infer<typeof ZLogin>;
/** How a request authenticated: no auth configured, a bearer token, or the console's session cookie. */
export const ZAuthVia = z.enum(['none', 'token', 'session']);
export const ZSessionState = z
  .object({ principal: z.string(), via: ZAuthVia, authRequired: z.boolean() })
  .meta({ id: 'SessionState' });
export type TSessionState = z.infer<typeof ZSessionState>;
