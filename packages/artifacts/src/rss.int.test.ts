import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { s3StoreForTest } from './index.ts';

/**
 * Streaming 300 MB in and out must not hold the object in memory. The bound: an S3 upload keeps
 * queueSize (2) parts of partSize (5 MiB) in flight plus the part being filled, each costing
 * ~12-17 MiB of RSS in practice (see s3-store.ts: measured ~50 MiB growth); the download holds
 * one socket buffer plus the verifier's held-back chunk; the file backend ~30 MiB (read-ahead and
 * GC lag). 64 MiB over the warmed baseline is ~5× below the object's size, so an implementation
 * that buffered the object cannot pass, and it leaves some room for GC lag on a loaded machine.
 * That room is thin on the s3 path: lib-storage copies every part once (it concatenates the
 * stream's chunks), so the upload makes twice the object's bytes in garbage against the file path's
 * once, and the peak is wherever V8 happens to collect it. Over 12 runs on 2026-12-03 the s3 growth
 * ranged 29–72 MiB (queueSize 1 gave 14–50 MiB, no clear gain), and one run, during a CI run with a
 * two-core benchmark beside it, went over the bound (72.4 MiB, from a low baseline). Left as a known
 * risk under load, not loosened. Parts written from reused buffers would fix it, but lib-storage
 * (which issue 9 asks for) has no such mode.
 */
const TOTAL = 300 * 1000 * 1000;
const BOUND = 64 * 1024 * 1024;

const run = promisify(execFile);
const probe = fileURLToPath(new URL('./rss-probe.ts', import.meta.url));
const tsx = createRequire(import.meta.url).resolve('tsx');

async function measure(target: object): Promise<{ ok: boolean; baseline: number; peak: number; growth: number; uploadGrowth: number }> {
  const { stdout } = await run(process.execPath, ['--no-warnings', '--import', tsx, probe, String(TOTAL)], {
    env: { ...process.env, CMBN_RSS_PROBE: JSON.stringify(target) },
    maxBuffer: 1024 * 1024,
  });
  const line = stdout.trim().split('\n').pop() ?? '';
  const r = JSON.parse(line) as { ok: boolean; baseline: number; peak: number; growth: number; uploadGrowth: number };
  console.log(`rss ${JSON.stringify(target).slice(0, 20)}…: baseline ${(r.baseline / 1048576).toFixed(1)} MiB, peak ${(r.peak / 1048576).toFixed(1)} MiB, growth ${(r.growth / 1048576).toFixed(1)} MiB (upload phase ${(r.uploadGrowth / 1048576).toFixed(1)} MiB)`);
  return r;
}

describe('streaming 300 MB keeps peak RSS bounded', () => {
  it('s3: putStream then verified createReadStream', { timeout: 600_000 }, async () => {
    const t = await s3StoreForTest();
    try {
      const r = await measure({ kind: 's3', bucket: t.bucket, prefix: t.prefix, options: t.options });
      expect(r.ok).toBe(true);
      expect(r.growth).toBeLessThan(BOUND);
    } finally {
      await t.cleanup();
    }
  });

  it('file: putStream then verified createReadStream', { timeout: 600_000 }, async () => {
    const root = await mkdtemp(join(tmpdir(), 'cmbn-rss-'));
    try {
      const r = await measure({ kind: 'file', root });
      expect(r.ok).toBe(true);
      expect(r.growth).toBeLessThan(BOUND);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
