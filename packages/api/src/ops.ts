import { z } from 'zod';

const ZProbe = z.enum(['ok', 'unreachable', 'timeout']);

export const ZHealth = z
  .object({ status: z.enum(['ok', 'unavailable']), redis: ZProbe, db: ZProbe, store: ZProbe })
  .meta({ id: 'Health' });
export type THealth = z.infer<typeof ZHealth>;

/** The console's login (`POST /v1/session`): a token exchanged for an HttpOnly session cookie. */
export const ZLoginBody = z.object({ token: z.string().min(1).max(4096) }).strict().meta({ id: 'Login' });
export const ZLogin = z
  .object({ principal: z.string(), expiresAt: z.union([z.number(), z.string()]).nullable(), authRequired: z.boolean() })
  .meta({ id: 'Session' });
export const ZSessionState = z
  .object({ principal: z.string(), via: z.string(), authRequired: z.boolean() })
  .meta({ id: 'SessionState' });
