import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR, REPO_ROOT } from './migrate.ts';
import { testAdminUrl } from './test-db.ts';

// These tests run the documented command, `npm run db:migrate`, as a user would: a child process
// with DATABASE_URL set. v0.1's tests migrated through an in-process copy and never saw that the
// command itself failed on a fresh database.

const created: string[] = [];

function databaseUrl(name: string): string {
  const u = new URL(testAdminUrl());
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>, url = testAdminUrl()): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function freshDatabase(): Promise<string> {
  const name = `cmbn_migrate_${randomBytes(5).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE "${name}"`));
  created.push(name);
  return databaseUrl(name);
}

interface Exit {
  code: number;
  out: string;
}

function run(cmd: string, args: string[], env: Record<string, string>, cwd = REPO_ROOT): Promise<Exit> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env: { ...process.env, ...env }, timeout: 180_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

const dbMigrate = (url: string) => run('npm', ['run', 'db:migrate'], { DATABASE_URL: url });

async function columns(url: string, table: string): Promise<string[]> {
  return admin(async (c) => {
    const r = await c.query<{ column_name: string }>(`SELECT column_name FROM information_schema.columns WHERE table_name = $1`, [table]);
    return r.rows.map((x) => x.column_name).sort();
  }, url);
}

async function records(url: string): Promise<{ name: string; finished: boolean; rolledBack: boolean }[]> {
  return admin(async (c) => {
    const r = await c.query<{ migration_name: string; finished_at: Date | null; rolled_back_at: Date | null }>(
      `SELECT migration_name, finished_at, rolled_back_at FROM "_prisma_migrations" ORDER BY migration_name, started_at`,
    );
    return r.rows.map((x) => ({ name: x.migration_name, finished: x.finished_at !== null, rolledBack: x.rolled_back_at !== null }));
  }, url);
}

afterAll(async () => {
  for (const name of created) await admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
});

describe('npm run db:migrate', () => {
  it('migrates a fresh database, then reports it up to date', async () => {
    const url = await freshDatabase();
    const first = await dbMigrate(url);
    expect(first.code, first.out).toBe(0);
    expect(first.out).toContain('applied 20261127000000_init, 20261128000000_run_shard_size');
    expect(await columns(url, 'Run')).toContain('shardSize');
    const second = await dbMigrate(url);
    expect(second.code, second.out).toBe(0);
    expect(second.out).toContain('db:migrate: up to date');
  });

  it("gets a database stuck at P3009 by v0.1's broken migration out, with the same command", async () => {
    // Reproduce the stuck state with the real CLI and v0.1's file: a copy of the migrations in
    // which run_shard_size still has the ';' in its comment, migrated by `prisma migrate deploy`.
    const url = await freshDatabase();
    const dir = await mkdtemp(join(REPO_ROOT, '.cmbn-migrate-test-'));
    try {
      await mkdir(join(dir, 'prisma'), { recursive: true });
      await cp(MIGRATIONS_DIR, join(dir, 'prisma', 'migrations'), { recursive: true });
      await cp(join(REPO_ROOT, 'prisma', 'schema.prisma'), join(dir, 'prisma', 'schema.prisma'));
      await cp(new URL('./fixtures/v0.1-run-shard-size.sql', import.meta.url), join(dir, 'prisma', 'migrations', '20261128000000_run_shard_size', 'migration.sql'));
      await writeFile(join(dir, 'prisma.config.ts'), await readFile(join(REPO_ROOT, 'prisma.config.ts'), 'utf8'));
      const prisma = join(REPO_ROOT, 'node_modules', 'prisma', 'build', 'index.js');
      const broken = await run(process.execPath, [prisma, 'migrate', 'deploy'], { DATABASE_URL: url }, dir);
      expect(broken.code).not.toBe(0);
      expect(broken.out).toContain('syntax error at or near "NULL"');
      const stuck = await run(process.execPath, [prisma, 'migrate', 'deploy'], { DATABASE_URL: url }, dir);
      expect(stuck.out).toContain('P3009');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(await columns(url, 'Run')).not.toContain('shardSize');

    const fixed = await dbMigrate(url);
    expect(fixed.code, fixed.out).toBe(0);
    expect(fixed.out).toContain('marked rolled back');
    expect(await columns(url, 'Run')).toContain('shardSize');
    const recs = await records(url);
    expect(recs.filter((r) => r.name === '20261128000000_run_shard_size')).toEqual([
      { name: '20261128000000_run_shard_size', finished: false, rolledBack: true },
      { name: '20261128000000_run_shard_size', finished: true, rolledBack: false },
    ]);
    expect((await dbMigrate(url)).out).toContain('up to date');
  });

  it("accepts a database that v0.1's in-process migrator applied (old file, old checksum)", async () => {
    // What v0.1's migrateDatabase did: each file as one multi-statement query, recorded with the
    // sha256 of that file. The fixed file has another checksum; deploy must not refuse it.
    const url = await freshDatabase();
    const files = [
      ['20261127000000_init', await readFile(join(MIGRATIONS_DIR, '20261127000000_init', 'migration.sql'), 'utf8')],
      ['20261128000000_run_shard_size', await readFile(new URL('./fixtures/v0.1-run-shard-size.sql', import.meta.url), 'utf8')],
    ] as const;
    await admin(async (c) => {
      await c.query(`CREATE TABLE "_prisma_migrations" ("id" VARCHAR(36) PRIMARY KEY NOT NULL, "checksum" VARCHAR(64) NOT NULL,
        "finished_at" TIMESTAMPTZ, "migration_name" VARCHAR(255) NOT NULL, "logs" TEXT, "rolled_back_at" TIMESTAMPTZ,
        "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(), "applied_steps_count" INTEGER NOT NULL DEFAULT 0)`);
      for (const [name, sql] of files) {
        await c.query(sql);
        await c.query(`INSERT INTO "_prisma_migrations" (id, checksum, migration_name, finished_at, applied_steps_count) VALUES ($1, $2, $3, now(), 1)`, [
          randomBytes(16).toString('hex'),
          createHash('sha256').update(sql).digest('hex'),
          name,
        ]);
      }
    }, url);
    const r = await dbMigrate(url);
    expect(r.code, r.out).toBe(0);
    // Not refused for the changed checksum: the later migrations (those after v0.1) apply on top.
    const later = (await readdir(MIGRATIONS_DIR, { withFileTypes: true })).filter((d) => d.isDirectory() && d.name > '20261128000000_run_shard_size').map((d) => d.name).sort();
    expect(r.out).toContain(later.length === 0 ? 'db:migrate: up to date' : `db:migrate: applied ${later.join(', ')}`);
    expect((await dbMigrate(url)).out).toContain('db:migrate: up to date');
  });

  it('fails with one clear line, in bounded time, when the database cannot be reached', async () => {
    const r = await dbMigrate('postgresql://postgres@127.0.0.1:1/nowhere');
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/db:migrate: .*ECONNREFUSED/);
  });
});
