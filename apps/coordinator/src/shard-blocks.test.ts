/** ShardBlocks over a real file store: what it fetches ahead, and when the assembly fetches instead. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileArtifactStore } from '@cmbn/artifacts';
import { encodeCodeNpy } from '@cmbn/jobs';
import { PREFETCH_BUDGET_BYTES, ShardBlocks } from './shard-blocks.ts';

const ROWS = 50;
const COLS = 3;
const SHAPE = { rows: ROWS, cols: COLS };
let dir: string;
let store: FileArtifactStore;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cmbn-shard-blocks-'));
  store = new FileArtifactStore(dir);
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

/** A stored block whose ids start at `first`, and its sha256. */
async function block(first: number): Promise<{ ids: Uint16Array; sha256: string }> {
  const ids = Uint16Array.from({ length: ROWS * COLS }, (_, i) => (first + i) % 65536);
  return { ids, sha256: (await store.put(encodeCodeNpy(ids, ROWS, COLS))).sha256 };
}

/** The assembly's own fetch, counting its calls; it must not be needed when the block is held. */
function counting(ids: Uint16Array): { fetch: () => Promise<Uint16Array>; calls: () => number } {
  let n = 0;
  return {
    fetch: async () => {
      n++;
      return ids;
    },
    calls: () => n,
  };
}

describe('ShardBlocks', () => {
  it('hands the assembly the block fetched for that output, without a second fetch', async () => {
    const b = new ShardBlocks(store);
    const { ids, sha256 } = await block(7);
    b.prefetch('r', 2, 0, sha256, ROWS, COLS);
    expect(b.holds('r', 2, 0, sha256)).toBe(true);
    const own = counting(new Uint16Array(0));
    expect(await b.get('r', 2, 0, sha256, SHAPE, own.fetch)).toEqual(ids);
    expect(own.calls()).toBe(0);
    expect(b.fetchedAhead('r', 2, 0, sha256)).toBe(true);
  });

  it('uses a held block only in the shape the plan expects, whatever the worker claimed', async () => {
    const b = new ShardBlocks(store);
    const { ids, sha256 } = await block(11);
    // A worker that claims 150 rows of 1 column for a shard the plan gives 50 × 3: the same bytes decode either way.
    b.prefetch('r', 2, 0, sha256, ROWS * COLS, 1);
    const own = counting(ids);
    expect(await b.get('r', 2, 0, sha256, SHAPE, own.fetch)).toBe(ids);
    expect(own.calls()).toBe(1);
  });

  it('fetches through the assembly when nothing was held, for another output, or when the early fetch failed', async () => {
    const b = new ShardBlocks(store);
    const { ids, sha256 } = await block(100);
    const other = await block(200);
    const own = counting(ids);
    expect(await b.get('r', 1, 0, sha256, SHAPE, own.fetch)).toBe(ids); // never prefetched
    b.prefetch('r', 1, 1, other.sha256, ROWS, COLS);
    expect(await b.get('r', 1, 1, sha256, SHAPE, own.fetch)).toBe(ids); // held for another output
    const missing = 'ab'.repeat(32);
    b.prefetch('r', 1, 2, missing, ROWS, COLS); // not in the store: the early fetch fails quietly
    expect(await b.get('r', 1, 2, missing, SHAPE, own.fetch)).toBe(ids);
    expect(own.calls()).toBe(3);
    expect(b.holds('r', 1, 2, missing)).toBe(false); // and its entry (and bytes) went with it
  });

  it('fetches nothing for an assembled layer, and holds nothing once the run has ended', async () => {
    const b = new ShardBlocks(store);
    const { sha256 } = await block(300);
    b.prefetch('r', 1, 0, sha256, ROWS, COLS);
    b.assembledLayer('r', 1);
    b.prefetch('r', 1, 1, sha256, ROWS, COLS); // a completion event handled after the assembly
    expect(b.holds('r', 1, 1, sha256)).toBe(false);
    b.prefetch('r', 2, 0, sha256, ROWS, COLS);
    b.prefetch('other', 1, 0, sha256, ROWS, COLS);
    b.dropRun('r');
    expect(b.holds('r', 2, 0, sha256)).toBe(false);
    expect(b.size).toBe(1); // the other run's block
    b.dropRun('other');
    expect(b.size).toBe(0);
  });

  it('stops fetching ahead at its byte budget, and the budget frees as layers are assembled', async () => {
    const b = new ShardBlocks(store);
    const { sha256 } = await block(400);
    // Each block claims a third of the budget (its rows × cols × 2 bytes, as the shard result states).
    const rows = Math.floor(PREFETCH_BUDGET_BYTES / 3 / 2);
    for (const i of [0, 1, 2, 3]) b.prefetch('r', 1, i, sha256, rows, 1);
    expect([0, 1, 2, 3].map((i) => b.holds('r', 1, i, sha256))).toEqual([true, true, true, false]);
    b.assembledLayer('r', 1);
    b.prefetch('r', 2, 0, sha256, rows, 1);
    expect(b.holds('r', 2, 0, sha256)).toBe(true);
    // Replacing an entry, and ending the run, free its bytes too.
    b.prefetch('r', 2, 0, 'cd'.repeat(32), rows, 1);
    b.prefetch('r', 2, 1, sha256, rows, 1);
    b.prefetch('r', 2, 2, sha256, rows, 1);
    expect([0, 1, 2].map((i) => b.holds('r', 2, i, i === 0 ? 'cd'.repeat(32) : sha256))).toEqual([true, true, true]);
    b.dropRun('r');
    for (const i of [0, 1, 2]) b.prefetch('s', 1, i, sha256, rows, 1);
    expect([0, 1, 2].map((i) => b.holds('s', 1, i, sha256))).toEqual([true, true, true]);
    b.dropRun('s');
  });

  it('drops a run\'s earlier layers when a later layer completes a shard (another coordinator may have assembled them)', async () => {
    const b = new ShardBlocks(store);
    const { sha256 } = await block(500);
    b.prefetch('r', 1, 0, sha256, ROWS, COLS);
    b.prefetch('q', 1, 0, sha256, ROWS, COLS);
    b.prefetch('r', 2, 0, sha256, ROWS, COLS);
    expect([b.holds('r', 1, 0, sha256), b.holds('q', 1, 0, sha256), b.holds('r', 2, 0, sha256)]).toEqual([false, true, true]);
    b.dropRun('r');
    b.dropRun('q');
    expect(b.size).toBe(0);
  });
});
