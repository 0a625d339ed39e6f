/**
 * The start-up check of REDIS_URL that the coordinator and the worker run before they open any
 * BullMQ handle.
 *
 * Why: BullMQ (5.81) retries forever a connection whose server answers with an error. A wrong or
 * missing password (WRONGPASS, NOAUTH), or INFO refused (renamed or disabled; BullMQ reads the
 * server's version with it) left `cmbn worker` logging "worker error" every 2 s and the coordinator
 * waiting without ever listening, with nothing that said what to fix. Such an answer does not
 * change by waiting, so it ends the start-up here with one line (RedisConfigError). So does a Redis
 * older than BullMQ's minimum (5.0), which BullMQ itself reports only from inside its connection
 * set-up. A server that does not answer at all (down, restarting, not yet started) is waited for,
 * as before, and each connection error on the way is passed to onWaiting.
 */
import { Redis, ReplyError } from 'ioredis';
import { errorLine } from './failure.ts';

/** A Redis that answered, but that this deployment cannot use as configured; message is one line. */
export class RedisConfigError extends Error {
  constructor(
    readonly where: string,
    readonly reason: string,
    readonly fix: string,
  ) {
    super(`redis at ${where}: ${reason}; ${fix}`);
    this.name = 'RedisConfigError';
  }
}

/** The URL without its credentials, for logs and errors: scheme, host, port and database. */
export function redisLocation(url: string): string {
  try {
    const u = new URL(url);
    const db = u.pathname.length > 1 ? u.pathname : '';
    return `${u.protocol}//${u.hostname}:${u.port || '6379'}${db}`;
  } catch {
    return '(unparsable REDIS_URL)';
  }
}

/** What to do about a server's error answer to INFO (or to the AUTH before it). */
function fixFor(err: Error): { reason: string; fix: string } {
  const message = err.message;
  const reason = `it answered "${errorLine(err)}"`;
  if (/^NOAUTH/.test(message)) return { reason, fix: 'it needs a password: put it in REDIS_URL (redis://:PASSWORD@HOST:PORT)' };
  if (/^WRONGPASS|invalid password/i.test(message)) return { reason, fix: 'set the user and password in REDIS_URL to ones the server accepts' };
  if (/unknown command/i.test(message)) {
    return { reason, fix: 'BullMQ needs INFO (it reads the server version with it): undo its rename-command or allow it for this user' };
  }
  if (/^NOPERM/.test(message)) return { reason, fix: "grant this user the commands BullMQ needs (INFO, EVALSHA and the keys of CMBN_QUEUE_PREFIX), or use another user in REDIS_URL" };
  return { reason, fix: 'point REDIS_URL at a Redis server (5.0 or later) that BullMQ can use' };
}

/** BullMQ's own floor (RedisConnection.minimumVersion in 5.x): below it, its scripts do not run. */
export const MIN_REDIS_VERSION = '5.0.0';

/** What an INFO answer tells about the server: its version and the memory policy, when it is Redis. */
export interface RedisServerInfo {
  /** redis_version, or undefined for servers that report their own (valkey_version, dragonfly_version). */
  redisVersion: string | undefined;
  maxmemoryPolicy: string | undefined;
}

export function parseRedisInfo(info: string): RedisServerInfo {
  const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
  // Valkey and Dragonfly also send a redis_version line, for compatibility; BullMQ judges them by
  // their own version, and so does this check (by not judging them).
  const compatible = field('valkey_version') !== undefined || field('dragonfly_version') !== undefined || /^server_name:valkey$/im.test(info);
  return { redisVersion: compatible ? undefined : field('redis_version'), maxmemoryPolicy: field('maxmemory_policy') };
}

/** True when dotted version `v` is below `min` (numeric parts; a missing part is 0). */
export function versionBelow(v: string, min: string): boolean {
  const a = v.split('.').map((p) => Number.parseInt(p, 10) || 0);
  const b = min.split('.').map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d < 0;
  }
  return false;
}

/**
 * What the INFO answer says against using the server, as the RedisConfigError's reason and fix (a
 * version below BullMQ's floor), or undefined; and the warning its memory policy deserves.
 */
export function redisServerProblems(info: RedisServerInfo, where: string): { refusal?: { reason: string; fix: string }; warning?: string } {
  const refusal =
    info.redisVersion !== undefined && versionBelow(info.redisVersion, MIN_REDIS_VERSION)
      ? { reason: `it is Redis ${info.redisVersion}`, fix: `BullMQ needs Redis ${MIN_REDIS_VERSION} or later (6.2 or later recommended): upgrade the server or point REDIS_URL at a newer one` }
      : undefined;
  // A warning, not a refusal: it works until memory fills, and managed Redis services often
  // default to an LRU policy. Then Redis may drop queued jobs' keys.
  const warning =
    info.maxmemoryPolicy !== undefined && info.maxmemoryPolicy !== 'noeviction'
      ? `redis at ${where}: maxmemory-policy is ${info.maxmemoryPolicy}; when its memory fills, Redis may evict queued jobs: set maxmemory-policy noeviction (BullMQ requires it)`
      : undefined;
  return { ...(refusal ? { refusal } : {}), ...(warning ? { warning } : {}) };
}

export interface CheckRedisOptions {
  /** Each connection error while the server does not answer (it is waited for). */
  onWaiting?: (err: Error) => void;
  /** A setting that works but risks jobs: an eviction policy other than noeviction. */
  onWarning?: (message: string) => void;
}

/**
 * Resolves once the server at `url` has answered INFO; rejects with RedisConfigError when it answers
 * with an error or is older than MIN_REDIS_VERSION. Waits as long as the server does not answer
 * (the process's signal handlers end such a wait).
 */
export async function checkRedis(url: string, opts: CheckRedisOptions = {}): Promise<RedisServerInfo> {
  const onWaiting = opts.onWaiting ?? (() => {});
  const where = redisLocation(url);
  // No ready check: ioredis' own INFO would fail the same way and only reconnect. Commands wait
  // while the server is down (maxRetriesPerRequest: null), as the queues' own connections do.
  const client = new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: false, lazyConnect: true });
  client.on('error', (err: Error) => {
    if (!(err instanceof ReplyError)) onWaiting(err);
  });
  try {
    client.connect().catch(() => {}); // failures arrive as 'error' events; the INFO below waits
    // The server and memory sections: the version, and the eviction policy.
    const info = parseRedisInfo(`${await client.info('server')}\n${await client.info('memory')}`);
    const { refusal, warning } = redisServerProblems(info, where);
    if (refusal) throw new RedisConfigError(where, refusal.reason, refusal.fix);
    if (warning) opts.onWarning?.(warning);
    return info;
  } catch (err) {
    if (err instanceof ReplyError) {
      const { reason, fix } = fixFor(err as Error);
      throw new RedisConfigError(where, reason, fix);
    }
    throw err;
  } finally {
    client.disconnect();
  }
}

/**
 * The one "redis unavailable (retrying)" logger of a process: every Redis client reports each
 * reconnect attempt during an outage, so at most one line per `everyMs` for all of them together.
 */
export function throttledRedisWarning(warn: (fields: { err: string; what: string }, msg: string) => void, everyMs = 5_000): (what: string) => (err: Error) => void {
  let last = 0;
  return (what) => (err) => {
    if (Date.now() - last < everyMs) return;
    last = Date.now();
    warn({ err: err.message, what }, 'redis unavailable (retrying)');
  };
}
