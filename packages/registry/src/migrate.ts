import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { RegistryError } from './errors.ts';
import { repairKnownBrokenMigrations } from './migration-repairs.ts';

/** The repository root: `prisma.config.ts`, `prisma/schema.prisma` and `prisma/migrations/` live there. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** `prisma/migrations` at the repository root. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../prisma/migrations', import.meta.url));

export interface MigrateResult {
  applied: string[];
  /** Failed records of known-broken migrations that were marked rolled back (or applied) first. */
  repaired: string[];
}

export interface MigrateOptions {
  /** Where the CLI's output goes (it is captured either way and quoted in the error on failure). */
  log?: (line: string) => void;
  /** Bound on the CLI's run; a database that does not answer fails here instead of hanging. */
  timeoutMs?: number;
}

/**
 * `npm run db:migrate`, tests and local mode all migrate through this one function, so what
 * tests exercise is what users run: it repairs the records left by known-broken migrations
 * (migration-repairs.ts), then runs the real `prisma migrate deploy` CLI against `databaseUrl`.
 *
 * v0.1 had a hand-written in-process copy of `migrate deploy` here. It executed each file as one
 * multi-statement query, while Prisma's engine splits scripts on `;` without reading comments,
 * so a `;` inside a `--` comment broke the documented command and no test saw it.
 */
export async function migrateDatabase(databaseUrl: string, opts: MigrateOptions = {}): Promise<MigrateResult> {
  const before = await appliedMigrations(databaseUrl);
  const repaired = await repairKnownBrokenMigrations(databaseUrl);
  for (const r of repaired) opts.log?.(`db:migrate: ${r}`);
  const out = await runPrismaMigrateDeploy(databaseUrl, opts.timeoutMs ?? 120_000);
  for (const line of out.split('\n')) if (line.trim() !== '') opts.log?.(line);
  const after = await appliedMigrations(databaseUrl);
  return { applied: after.filter((m) => !before.includes(m)), repaired };
}

function runPrismaMigrateDeploy(databaseUrl: string, timeoutMs: number): Promise<string> {
  const cli = createRequire(import.meta.url).resolve('prisma/build/index.js');
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [cli, 'migrate', 'deploy'],
      // prisma.config.ts (engine "js", the pg adapter) is read from the working directory.
      { cwd: REPO_ROOT, env: { ...process.env, DATABASE_URL: databaseUrl, NO_COLOR: '1' }, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const output = `${stdout}${stderr}`;
        if (!err) return resolve(output);
        const why = err.killed ? `did not finish within ${timeoutMs} ms` : `exited with ${err.code ?? err.signal}`;
        reject(new RegistryError('CONFLICT', `prisma migrate deploy ${why}: ${prismaErrorText(output)}`));
      },
    );
  });
}

/** The lines of the CLI's output that say what went wrong (its banner and schema warnings are noise). */
function prismaErrorText(output: string): string {
  const lines = output.split('\n').map((l) => l.trim());
  const start = lines.findIndex((l) => /^Error\b|P\d{4}|error/i.test(l));
  return (start >= 0 ? lines.slice(start) : lines).filter((l) => l !== '').slice(0, 12).join(' | ');
}

/** Names of the migrations in prisma/migrations, in order: what `npm run db:migrate` applies. */
export function localMigrations(): string[] {
  return readdirSync(MIGRATIONS_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

/** Names of the migrations recorded as finished (none when the table does not exist yet). */
export async function appliedMigrations(databaseUrl: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
    const { rows } = await client.query<{ name: string }>(
      `SELECT migration_name AS name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY migration_name`,
    );
    return rows.map((r) => r.name);
  } catch (err) {
    if ((err as { code?: string }).code === '42P01') return []; // undefined_table: a fresh database
    throw err;
  } finally {
    await client.end().catch(() => {}); // after a failed connect too: nothing is left open
  }
}
