import type { Logger } from 'pino';
import { classifyError, errorLine } from '@cmbn/jobs';
import { RegistryConfigError, checkRegistryOnce, databaseLocation } from '@cmbn/registry';

/** Between tries while Postgres does not answer; the log says so at most every LOG_EVERY_MS. */
const RETRY_MS = 2_000;
const LOG_EVERY_MS = 5_000;

/**
 * The coordinator's start-up wait for the registry, like its wait for Redis: a Postgres that is
 * down or restarting (a transient-infra error by @cmbn/jobs' one taxonomy) is waited for, logged
 * as `postgres unavailable (retrying)`; one that answers but cannot be used (no such database or
 * user, migrations missing: RegistryConfigError) ends the start-up with its one line, as does any
 * other error (its first line, naming the database). A host name that does not resolve (ENOTFOUND)
 * counts as down: in compose and Kubernetes a service's name resolves only once it has started.
 */
export async function waitForRegistry(url: string, log: Logger): Promise<void> {
  const where = databaseLocation(url);
  let lastLog = 0;
  for (;;) {
    try {
      await checkRegistryOnce(url);
      return;
    } catch (err) {
      if (err instanceof RegistryConfigError) throw err;
      const message = errorLine(err);
      if (classifyError(err) !== 'transient-infra') throw new Error(`registry at ${where}: ${message}`, { cause: err });
      if (Date.now() - lastLog >= LOG_EVERY_MS) {
        lastLog = Date.now();
        log.warn({ database: where, err: message }, 'postgres unavailable (retrying)');
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  }
}
