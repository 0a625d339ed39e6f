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
 * output it was fetched for (its sha256) and only when its shape is the one the assembly expects
 * (the plan's rows and columns, not the worker's claim). A layer's blocks are dropped once it is
 * assembled, once a later layer of its run completes a shard (another coordinator may have
 * assembled it), or when its run ends.
 */
import type { ArtifactStore } from '@cmbn/artifacts';
import { decodeCodeNpy } from '@cmbn/jobs';

/**
 * Most bytes held for all runs together. The assembly itself holds a layer's blocks and its code
 * at once (2 · n · V bytes), so for one run the blocks held here add nothing to its peak; with
 * several runs, one run's held blocks add to another's assembly, hence a bound. Past it the
 * assembly fetches the rest, as before.
 */
export const PREFETCH_BUDGET_BYTES = 256 * 1024 * 1024;

interface Held {
  sha256: string;
  rows: number;
  cols: number;
  bytes: number;
  ids: Promise<Uint16Array>;
  /** The fetch succeeded (for the assembly's log line). */
  ok: boolean;
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
    // A shard of this layer completed, so every earlier layer of the run is assembled, here or by
    // another coordinator on the same queues.
    for (const k of [...this.layers.keys()]) {
      if (k.startsWith(`${runId}/`) && Number(k.slice(runId.length + 1)) < layer) this.drop(k);
    }
    const held = this.layers.get(key) ?? new Map<number, Held>();
    if (held.get(index)?.sha256 === sha256) return;
    const entry: Held = { sha256, rows, cols, bytes, ok: false, ids: Promise.resolve(new Uint16Array(0)) };
    entry.ids = this.store.get(sha256).then((b) => decodeCodeNpy(b, `shard ${index} of layer ${layer}`, { rows, cols }).ids);
    entry.ids.then(
      () => {
        entry.ok = true;
      },
      () => {
        // The assembly fetches it again, and reports; its bytes are free for others meanwhile.
        const m = this.layers.get(key);
        if (m?.get(index) === entry) {
          m.delete(index);
          this.release(entry);
        }
      },
    );
    this.release(held.get(index));
    held.set(index, entry);
    this.layers.set(key, held);
    this.heldBytes += bytes;
  }

  /** Whether a fetch for this output was started here and is still held. */
  holds(runId: string, layer: number, index: number, sha256: string): boolean {
    return this.layers.get(`${runId}/${layer}`)?.get(index)?.sha256 === sha256;
  }

  /** Whether this output's block was fetched here, successfully (for the assembly's log line). */
  fetchedAhead(runId: string, layer: number, index: number, sha256: string): boolean {
    const h = this.layers.get(`${runId}/${layer}`)?.get(index);
    return h?.sha256 === sha256 && h.ok;
  }

  /**
   * The block fetched for this output when its shape is the expected one, else the store's copy
   * (also when there is none or its fetch failed): the assembly's shape check stays the plan's.
   */
  get(runId: string, layer: number, index: number, sha256: string, shape: { rows: number; cols: number }, fetch: () => Promise<Uint16Array>): Promise<Uint16Array> {
    const h = this.layers.get(`${runId}/${layer}`)?.get(index);
    return h?.sha256 === sha256 && h.rows === shape.rows && h.cols === shape.cols ? h.ids.catch(fetch) : fetch();
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
