/**
 * Shard outputs fetched as their shards complete, so that assembling a layer does not start by
 * downloading all of them.
 *
 * Why: between two layers every worker waits for the coordinator, and the assembly began with one
 * GET per shard. With the store on S3 (bench:scaling --hosts, s3rver over the bridge) that made
 * the boundary 50–230 ms, about twice the file:// one, nine times per run. Fetched while the
 * other shards still compute, the blocks are at hand when the last shard completes.
 *
 * Purely an optimisation: a block that was not fetched here (a coordinator restarted mid-layer, a
 * completion reconciled from Redis, the byte budget full, a fetch that failed) is fetched by the
 * assembly as before, with the same verification and retries. A block is used only for the
 * output it was fetched for (its sha256), and every block of a layer is dropped once the layer is
 * assembled or its run ends.
 */
import type { ArtifactStore } from '@cmbn/artifacts';
import { decodeCodeNpy } from '@cmbn/jobs';

/**
 * Most bytes held for all runs together. The assembly itself holds a layer's blocks and its code
 * at once (2 · n · V bytes), so blocks held here up to that size add nothing to the peak; past the
 * budget the assembly fetches the rest, as before.
 */
export const PREFETCH_BUDGET_BYTES = 256 * 1024 * 1024;

interface Held {
  sha256: string;
  bytes: number;
  ids: Promise<Uint16Array>;
}

export class ShardBlocks {
  /** By `${runId}/${layer}`, then shard index. */
  private readonly layers = new Map<string, Map<number, Held>>();
  /** Layers already assembled: a completion event handled after the assembly fetches nothing. */
  private readonly assembled = new Set<string>();
  private heldBytes = 0;

  constructor(private readonly store: ArtifactStore) {}

  /** Starts fetching a completed shard's output (n rows × cols ids) unless the budget is spent. */
  prefetch(runId: string, layer: number, index: number, sha256: string, rows: number, cols: number): void {
    const bytes = rows * cols * 2;
    if (this.heldBytes + bytes > PREFETCH_BUDGET_BYTES) return;
    const key = `${runId}/${layer}`;
    if (this.assembled.has(key)) return;
    const held = this.layers.get(key) ?? new Map<number, Held>();
    if (held.get(index)?.sha256 === sha256) return;
    const ids = this.store.get(sha256).then((b) => decodeCodeNpy(b, `shard ${index} of layer ${layer}`, { rows, cols }).ids);
    ids.catch(() => {}); // the assembly fetches it again, and reports
    this.release(held.get(index));
    held.set(index, { sha256, bytes, ids });
    this.layers.set(key, held);
    this.heldBytes += bytes;
  }

  /** Whether a fetch for this output was started here (for the assembly's log line). */
  holds(runId: string, layer: number, index: number, sha256: string): boolean {
    return this.layers.get(`${runId}/${layer}`)?.get(index)?.sha256 === sha256;
  }

  /** The block fetched for this output, or the store's copy when there is none or its fetch failed. */
  get(runId: string, layer: number, index: number, sha256: string, fetch: () => Promise<Uint16Array>): Promise<Uint16Array> {
    const held = this.layers.get(`${runId}/${layer}`)?.get(index);
    return held?.sha256 === sha256 ? held.ids.catch(fetch) : fetch();
  }

  /** The layer is assembled: its blocks go, and none is fetched for it again. */
  assembledLayer(runId: string, layer: number): void {
    const key = `${runId}/${layer}`;
    this.drop(key);
    this.assembled.add(key);
  }

  /** The run ended: everything held for it goes. */
  dropRun(runId: string): void {
    for (const key of [...this.layers.keys(), ...this.assembled]) {
      if (key.startsWith(`${runId}/`)) {
        this.drop(key);
        this.assembled.delete(key);
      }
    }
  }

  /** Entries held (blocks and assembled-layer marks), for the state-release tests: zero once every run has ended. */
  get size(): number {
    let n = this.assembled.size;
    for (const m of this.layers.values()) n += m.size;
    return n;
  }

  private drop(key: string): void {
    for (const h of this.layers.get(key)?.values() ?? []) this.release(h);
    this.layers.delete(key);
  }

  private release(h: Held | undefined): void {
    if (h) this.heldBytes -= h.bytes;
  }
}
