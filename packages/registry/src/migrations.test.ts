import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS_DIR } from './migrate.ts';

// Prisma's engine cuts a migration script into statements at every ';' without reading comments
// (v0.1's run_shard_size broke `prisma migrate deploy` that way). Keep ';' out of comments.
describe('prisma/migrations', () => {
  it("has no ';' inside a SQL comment", async () => {
    const dirs = (await readdir(MIGRATIONS_DIR, { withFileTypes: true })).filter((d) => d.isDirectory());
    expect(dirs.length).toBeGreaterThan(0);
    const offending: string[] = [];
    for (const d of dirs) {
      const sql = await readFile(join(MIGRATIONS_DIR, d.name, 'migration.sql'), 'utf8');
      sql.split('\n').forEach((line, i) => {
        const comment = line.indexOf('--');
        if (comment >= 0 && line.slice(comment).includes(';')) offending.push(`${d.name}/migration.sql:${i + 1}`);
      });
      for (const block of sql.match(/\/\*[\s\S]*?\*\//g) ?? []) if (block.includes(';')) offending.push(`${d.name}/migration.sql (block comment)`);
    }
    expect(offending).toEqual([]);
  });

  it("the check sees v0.1's broken file", async () => {
    const old = await readFile(new URL('./fixtures/v0.1-run-shard-size.sql', import.meta.url), 'utf8');
    expect(old.split('\n').some((l) => l.includes('--') && l.slice(l.indexOf('--')).includes(';'))).toBe(true);
  });
});
