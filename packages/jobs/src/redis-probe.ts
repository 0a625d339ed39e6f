/**
 * The start-up check of REDIS_URL that the coordinator and the worker run before they open any
 * BullMQ handle.
 *
 * Why: BullMQ (5.81) retries forever a connection whose server answers with an error. A wrong or
 * missing password (WRONGPASS, NOAUTH), or INFO refused (renamed or disabled; BullMQ reads the
 * server's version with it) left `cmbn worker` logging "worker error" every 2 s and the coordinator
 * waiting without ever listening, with nothing that said what to fix. Such an answer does not
 * change by waiting, so it ends the start-up here with one line (RedisConfigError). A server that
 * does not answer at all (down, restarting, not yet started) is waited for, as before, and each
 * connection error on the way is passed to onWaiting.
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

/**
 * Resolves once the server at `url` has answered INFO; rejects with RedisConfigError when it answers
 * with an error. Waits as long as the server does not answer (the process's signal handlers end
 * such a wait).
 */
export async function checkRedis(url: string, onWaiting: (err: Error) => void = () => {}): Promise<void> {
  const where = redisLocation(url);
  // No ready check: ioredis' own INFO would fail the same way and only reconnect. Commands wait
  // while the server is down (maxRetriesPerRequest: null), as the queues' own connections do.
  const client = new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: false, lazyConnect: true });
  client.on('error', (err: Error) => {
    if (!(err instanceof ReplyError)) onWaiting(err);
  });
  try {
    client.connect().catch(() => {}); // failures arrive as 'error' events; the INFO below waits
    await client.info('server');
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
