/**
 * The start-up check of DATABASE_URL: can this process use the registry at all?
 *
 * Why: a coordinator pointed at a database that does not exist, or that was never migrated,
 * failed its first query (the restart scan) with Prisma's text, whose first line is empty, so
 * `cmbn coordinator` printed `cmbn: ` and then hung on its open Redis connections. The answers
 * below do not change by waiting, so they become one RegistryConfigError line naming the database
 * (never the credentials) and the fix. Anything else (a server that is down or restarting) is
 * rethrown as it came: callers decide with @cmbn/jobs' classifyError whether to wait for it.
 */
import { appliedMigrations, localMigrations } from './migrate.ts';

export class RegistryConfigError extends Error {
  constructor(
    readonly where: string,
    readonly reason: string,
    readonly fix: string,
  ) {
    super(`registry at ${where}: ${reason}; ${fix}`);
    this.name = 'RegistryConfigError';
  }
}

/** `host:port/database` of a Postgres URL: what a log line may name (no user, no password). */
export function databaseLocation(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return 'an unparsable DATABASE_URL';
  }
}

const MIGRATE = 'run `npm run db:migrate` with this DATABASE_URL (the compose file runs it as its `migrate` service)';

/** SQLSTATEs that a server answers for a database, user or grant that is not there. */
function fixFor(code: string, where: string): string | undefined {
  const database = where.slice(where.indexOf('/') + 1);
  switch (code) {
    case '3D000': // invalid_catalog_name
      return `create it (createdb ${database}) and ${MIGRATE}, or correct the database name in DATABASE_URL`;
    case '28P01': // invalid_password
    case '28000': // invalid_authorization_specification (no such role, pg_hba refusal)
      return 'set the user and password in DATABASE_URL to ones the server accepts';
    case '42501': // insufficient_privilege
      return 'grant the user in DATABASE_URL access to this database, or use the user that ran db:migrate';
    default:
      return undefined;
  }
}

/**
 * Connects once and compares the applied migrations with prisma/migrations. Resolves when every
 * migration is applied; throws RegistryConfigError when the server refuses the database or user,
 * or when migrations are missing; rethrows anything else unchanged.
 */
export async function checkRegistryOnce(url: string): Promise<void> {
  const where = databaseLocation(url);
  let applied: string[];
  try {
    applied = await appliedMigrations(url);
  } catch (err) {
    if (err instanceof TypeError && /Invalid URL/i.test(err.message)) throw new RegistryConfigError(where, 'DATABASE_URL is not a URL', 'set it to postgresql://USER:PASSWORD@HOST:PORT/DATABASE');
    const code = (err as { code?: unknown }).code;
    const fix = typeof code === 'string' ? fixFor(code, where) : undefined;
    if (fix !== undefined) throw new RegistryConfigError(where, `the server answered "${(err as Error).message}"`, fix);
    throw err;
  }
  const missing = localMigrations().filter((m) => !applied.includes(m));
  if (missing.length > 0) {
    const reason = applied.length === 0 ? 'the database has no cmbn tables (it was never migrated)' : `the database lacks ${missing.length} migration(s): ${missing.join(', ')}`;
    throw new RegistryConfigError(where, reason, MIGRATE);
  }
}
