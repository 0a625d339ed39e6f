import type { Logger } from 'pino';
import { TimeoutError, withTimeout } from './timeout.ts';

/** One step of a graceful close: what it is, how to run it, and what it is waiting on (for the log). */
export interface CloseStep {
  name: string;
  run: () => Promise<unknown>;
  /** What a slow step still waits for (active jobs, held run locks); read only when it overruns. */
  waitingOn?: () => unknown;
}

/** A step that did not finish within its bound (abandoned: the close went on without it) or that threw. */
export interface CloseProblem {
  step: string;
  outcome: 'overran' | 'failed';
  detail: unknown;
}

/**
 * Runs the steps of a close in order, each bounded by `stepTimeoutMs`, and tracks the step in
 * progress (`current`, for the process's grace-period log).
 *
 * Why bounded: each step waits on something outside this process's control (an active job, a
 * run's in-flight step, a connection's reply), and an in-process close that waits forever hangs
 * its caller (a test's teardown, a benchmark) with nothing said about why. Going on without a
 * step is safe: every run is re-driven from Postgres and Redis by the next coordinator, as after
 * a crash. A step that overruns or throws is logged with what it waits on, and reported. An
 * abandoned step is not cancelled: its connections may go on retrying until the process exits.
 */
export class CloseSequence {
  private step: CloseStep | undefined;

  constructor(
    private readonly log: Logger,
    private readonly stepTimeoutMs: number,
  ) {}

  /** The step in progress, and what it waits on; undefined when no close is running. */
  current(): { step: string; waitingOn?: unknown } | undefined {
    const s = this.step;
    return s && { step: s.name, ...(s.waitingOn && { waitingOn: s.waitingOn() }) };
  }

  async run(steps: readonly CloseStep[]): Promise<CloseProblem[]> {
    const problems: CloseProblem[] = [];
    for (const s of steps) {
      this.step = s;
      try {
        // (Through then(): a step that throws before returning its promise is a failed step too.)
        await withTimeout(Promise.resolve().then(() => s.run()), this.stepTimeoutMs);
      } catch (err) {
        if (err instanceof TimeoutError) {
          const detail = { afterMs: this.stepTimeoutMs, waitingOn: s.waitingOn?.() };
          this.log.warn({ step: s.name, ...detail }, `close: ${s.name} did not finish in ${this.stepTimeoutMs} ms; going on without it`);
          problems.push({ step: s.name, outcome: 'overran', detail });
        } else {
          const detail = err instanceof Error ? err.message : String(err);
          this.log.warn({ step: s.name, err: detail }, `close: ${s.name} failed; going on`);
          problems.push({ step: s.name, outcome: 'failed', detail });
        }
      }
    }
    this.step = undefined;
    return problems;
  }
}
