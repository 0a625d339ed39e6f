import { EventEmitter } from 'node:events';
import type { TrainProgress } from '@cmbn/mbn';

/**
 * What GET /v1/runs/:id/events streams. `progress` has exactly the shape of the local trainer's
 * TrainProgress, so `cmbn train --remote` drives the same progress bar.
 */
export type RunEvent =
  | { type: 'progress'; progress: TrainProgress }
  | { type: 'status'; status: string; error?: string | null; modelHash?: string | null };

/** In-process fan-out of run events to SSE clients. */
export class ProgressBus {
  private readonly ee = new EventEmitter();

  constructor() {
    this.ee.setMaxListeners(0);
  }

  emit(runId: string, ev: RunEvent): void {
    this.ee.emit(runId, ev);
  }

  subscribe(runId: string, fn: (ev: RunEvent) => void): () => void {
    this.ee.on(runId, fn);
    return () => this.ee.off(runId, fn);
  }
}

/** Shards completed per second over a sliding window, for /metrics. */
export class RateMeter {
  private readonly times: number[] = [];
  total = 0;

  constructor(private readonly windowMs = 60_000) {}

  mark(now = Date.now()): void {
    this.total++;
    this.times.push(now);
    this.trim(now);
  }

  perSecond(now = Date.now()): number {
    this.trim(now);
    if (this.times.length === 0) return 0;
    const span = Math.max(1_000, Math.min(this.windowMs, now - this.times[0]!));
    return this.times.length / (span / 1000);
  }

  private trim(now: number): void {
    while (this.times.length > 0 && now - this.times[0]! > this.windowMs) this.times.shift();
  }
}
