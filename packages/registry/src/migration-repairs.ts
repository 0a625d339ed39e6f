import pg from 'pg';

/**
 * Migrations that shipped broken, with a way to tell what a failed attempt left behind.
 *
 * `prisma migrate deploy` records a failed migration and then refuses every later deploy (P3009)
 * until someone runs `prisma migrate resolve`, which needs Prisma's schema-engine binary that
 * cannot be downloaded on offline machines. `npm run db:migrate` therefore resolves these known
 * cases itself, exactly as `migrate resolve` would: `--rolled-back` when the migration's change is
 * absent (it then re-runs from the fixed file), `--applied` when it is present (a manual hotfix).
 */
interface KnownBrokenMigration {
  name: string;
  /** Why it failed, for the log line. */
  why: string;
  /** Whether the migration's effect is present in the database. */
  applied(client: pg.Client): Promise<boolean>;
}

export const KNOWN_BROKEN_MIGRATIONS: readonly KnownBrokenMigration[] = [
  {
    name: '20261128000000_run_shard_size',
    why: "v0.1's file had a ';' inside a SQL comment, which Prisma's statement splitter cut into a broken statement",
    async applied(client) {
      const { rowCount } = await client.query(
        `SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'Run' AND column_name = 'shardSize'`,
      );
      return (rowCount ?? 0) > 0;
    },
  },
];

// The advisory lock `prisma migrate deploy` takes, so a repair never races a deploy.
const PRISMA_LOCK_KEY = 72707369;

/** Resolves failed records of KNOWN_BROKEN_MIGRATIONS; returns one line per record it changed. */
export async function repairKnownBrokenMigrations(databaseUrl: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  await client.connect();
  const done: string[] = [];
  try {
    const exists = await client.query(`SELECT to_regclass('"_prisma_migrations"') IS NOT NULL AS present`);
    if (!(exists.rows[0] as { present: boolean }).present) return done;
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_LOCK_KEY]);
    for (const m of KNOWN_BROKEN_MIGRATIONS) {
      const failed = await client.query<{ id: string }>(
        `SELECT id FROM "_prisma_migrations" WHERE migration_name = $1 AND finished_at IS NULL AND rolled_back_at IS NULL`,
        [m.name],
      );
      if (failed.rows.length === 0) continue;
      const ids = failed.rows.map((r) => r.id);
      if (await m.applied(client)) {
        await client.query(`UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = ANY($1)`, [ids]);
        done.push(`${m.name} had failed (${m.why}) but its change is present: marked applied`);
      } else {
        await client.query(`UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE id = ANY($1)`, [ids]);
        done.push(`${m.name} had failed (${m.why}) and left nothing behind: marked rolled back, it is applied again from the fixed file`);
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_LOCK_KEY]).catch(() => {});
    await client.end();
  }
  return done;
}
