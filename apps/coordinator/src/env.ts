import { isIP } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';

const REPO_ROOT = new URL('../../../', import.meta.url);

/** Express's names for address ranges in a `trust proxy` list. */
const PROXY_RANGES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/**
 * CMBN_TRUST_PROXY as Express's `trust proxy` setting: unset/`false` → trust no proxy (the
 * default: X-Forwarded-* headers are then ignored, so a client cannot forge them); `true` → every
 * hop is trusted and req.ip is the left-most X-Forwarded-For entry, which any client can write, so
 * the failed-auth limit keys on what the client says (use it only when a proxy that overwrites the
 * header is the only way in; prefer a hop count or the proxy's address); a number → that
 * many hops; else a comma-separated list of addresses, CIDR ranges or loopback/linklocal/uniquelocal.
 */
const ZTrustProxy = z
  .string()
  .trim()
  .refine(
    (v) =>
      /^(true|false|\d{1,2})$/.test(v) ||
      v.split(',').every((part) => {
        const p = part.trim();
        if (PROXY_RANGES.has(p)) return true;
        const [addr, bits, ...rest] = p.split('/');
        return rest.length === 0 && isIP(addr ?? '') !== 0 && (bits === undefined || /^\d{1,3}$/.test(bits));
      }),
    'true, false, a hop count, or a comma-separated list of IP addresses/CIDR ranges/loopback/linklocal/uniquelocal',
  )
  .transform((v): boolean | number | string => (v === 'true' ? true : v === 'false' ? false : /^\d+$/.test(v) ? Number(v) : v));

/** CMBN_PUBLIC_URL: the origin browsers use (https://cmbn.example.org), with no path. */
const ZPublicUrl = z
  .string()
  .url()
  .refine((v) => ['http:', 'https:'].includes(new URL(v).protocol), 'an http:// or https:// URL')
  .refine((v) => ['', '/'].includes(new URL(v).pathname) && !new URL(v).search, 'an origin (scheme://host[:port]) without a path or query')
  .transform((v) => new URL(v).origin);

/** The coordinator's environment, read once at boot. */
export const ZCoordinatorEnv = z.object({
  /** Postgres of the run state (@cmbn/registry); migrate it with `npm run db:migrate`. */
  DATABASE_URL: z.string().min(1).default('postgresql://postgres@127.0.0.1:5432/cmbn'),
  /** Redis holding the BullMQ queues (production: maxmemory-policy noeviction, AOF on). */
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  /**
   * Artifact store shared with the workers: file:///abs/dir, a path, or s3://bucket/prefix (endpoint,
   * region and keys from AWS_ENDPOINT_URL_S3, AWS_REGION, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY;
   * CMBN_S3_FORCE_PATH_STYLE=true for MinIO). Probed with check() at start-up.
   */
  CMBN_ARTIFACTS: z.string().min(1).default(pathToFileURL(join(REPO_ROOT.pathname, '.cmbn/artifacts')).href),
  /** When set, every /v1 route requires `Authorization: Bearer <token>` (or a console session); the principal `default`. */
  CMBN_API_TOKEN: z.string().min(1).optional(),
  /** Named API tokens `name:token,…` (auth.ts parses them); the name is recorded as the principal, e.g. of an alias move. */
  CMBN_API_TOKENS: z.string().min(1).optional(),
  /** Largest accepted upload (POST /v1/datasets), in bytes. */
  CMBN_MAX_UPLOAD_BYTES: z.coerce.number().int().min(1).default(1024 ** 3),
  /** BullMQ key prefix; workers must use the same. */
  CMBN_QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_.-]+$/).default('cmbn'),
  /** HTTP port. */
  PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
  /** Interface the HTTP server binds; 127.0.0.1 keeps it to this machine. */
  HOST: z.string().min(1).default('0.0.0.0'),
  /** Which reverse proxies' X-Forwarded-For/-Proto/-Host to believe (Express `trust proxy`); unset: none. */
  CMBN_TRUST_PROXY: ZTrustProxy.optional(),
  /**
   * The coordinator's public origin as browsers see it (a TLS proxy's https://host). When set, a
   * cookie-authenticated state change must come from this Origin, and the session cookie is Secure
   * exactly when it is https. Unset: the request's own Host, and Secure except on loopback.
   */
  CMBN_PUBLIC_URL: ZPublicUrl.optional(),
  /** Lifetime of a console session cookie (POST /v1/session), in seconds. */
  CMBN_SESSION_TTL_S: z.coerce.number().int().min(60).max(30 * 86_400).default(12 * 3600),
  /** Failed authentications (401s) one client address may make per window before its requests get 429 (auth-limit.ts); 0: no limit. */
  CMBN_AUTH_FAIL_LIMIT: z.coerce.number().int().min(0).default(20),
  /** The window of CMBN_AUTH_FAIL_LIMIT, in seconds. */
  CMBN_AUTH_FAIL_WINDOW_S: z.coerce.number().int().min(1).max(86_400).default(900),
  /** How often PENDING model versions are checked against their jobs (and interrupted artifact deletions finished). */
  CMBN_PENDING_RECONCILE_MS: z.coerce.number().int().min(100).default(60_000),
  /** A PENDING version with no producing job (a local CLI registration) is failed after this long. */
  CMBN_PENDING_LOCAL_MAX_AGE_MS: z.coerce.number().int().min(0).default(6 * 3_600_000),
  /** How often every unfinished run is checked against the queues (missed events, lost jobs). */
  CMBN_RECONCILE_INTERVAL_MS: z.coerce.number().int().min(100).default(10_000),
  /** Lock of the coordinator's layer-assembly jobs (assembly blocks the event loop for big runs). */
  CMBN_LOCK_DURATION_MS: z.coerce.number().int().min(500).default(300_000),
  /** How often the coordinator looks for a stalled assembly job (a coordinator that died). */
  CMBN_STALLED_INTERVAL_MS: z.coerce.number().int().min(200).default(30_000),
  /** How long a transient Postgres/Redis/artifact-store error is retried (with backoff, without using up a job attempt) before it counts as a failure; longer than a database restart. */
  CMBN_INFRA_RETRY_MS: z.coerce.number().int().min(0).default(120_000),
  /** On SIGTERM/SIGINT: how long the graceful close may take before the process logs and exits anyway (1) whatever is down. */
  CMBN_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
  /** pino level. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type TCoordinatorEnv = z.infer<typeof ZCoordinatorEnv>;

export function readCoordinatorEnv(env: NodeJS.ProcessEnv = process.env): TCoordinatorEnv {
  const r = ZCoordinatorEnv.safeParse(env);
  if (!r.success) {
    throw new Error(`coordinator configuration: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return r.data;
}
