/**
 * The model a request runs on. A request takes a lease on the current model when its body has been
 * parsed and returns it when the answer is written; a swap replaces the current model in one
 * assignment (JavaScript runs it between two requests' steps, never in the middle of one), and the
 * old model is disposed only when its last lease is returned. So a swap never fails a request.
 */
import type { LoadedModel } from './served-model.ts';

interface Slot {
  model: LoadedModel;
  leases: number;
  retired: boolean;
}

export interface Lease {
  readonly model: LoadedModel;
  release(): void;
}

export class ModelHolder {
  private slot: Slot | undefined;
  private readonly disposing = new Set<Promise<void>>();

  constructor(private readonly onDisposeError: (err: unknown) => void = () => {}) {}

  get current(): LoadedModel | undefined {
    return this.slot?.model;
  }

  acquire(): Lease | undefined {
    const slot = this.slot;
    if (!slot) return undefined;
    slot.leases++;
    let released = false;
    return {
      model: slot.model,
      release: () => {
        if (released) return;
        released = true;
        slot.leases--;
        if (slot.retired && slot.leases === 0) this.dispose(slot);
      },
    };
  }

  /** Serve `model` from now on; returns the model it replaced (being disposed once idle). */
  swap(model: LoadedModel): LoadedModel | undefined {
    const old = this.slot;
    this.slot = { model, leases: 0, retired: false };
    if (old) {
      old.retired = true;
      if (old.leases === 0) this.dispose(old);
    }
    return old?.model;
  }

  private dispose(slot: Slot): void {
    const p = slot.model.dispose().catch(this.onDisposeError);
    this.disposing.add(p);
    void p.finally(() => this.disposing.delete(p));
  }

  /** Retires the current model and waits for every disposal (shutdown). */
  async close(): Promise<void> {
    const s = this.slot;
    this.slot = undefined;
    if (s) {
      s.retired = true;
      if (s.leases === 0) this.dispose(s);
    }
    await Promise.all([...this.disposing]);
  }
}
