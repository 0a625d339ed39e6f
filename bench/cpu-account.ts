/**
 * Where a machine's CPU went during a bench phase, from procfs (Linux): the whole machine's busy
 * time (/proc/stat) and chosen processes' own (/proc/<pid>/stat utime + stime, all threads).
 *
 * bench:scaling uses it to split a trial's cores between its worker processes and everything else
 * on the machine (the coordinator, Redis, the S3 server, Postgres, the machine's own daemons): on a
 * 2-core machine whatever is not a worker runs on the workers' cores, so it bounds their speed-up.
 */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's counters (USER_HZ): 100 on every Linux ABI Node runs on. */
const TICKS_PER_SECOND = 100;

export interface CpuSample {
  at: number;
  /** Busy ticks of the whole machine: user, nice, system, irq and softirq of /proc/stat's cpu line (not idle, iowait or steal). */
  machineBusy: number;
  /** Ticks per pid (utime + stime); a pid that is gone reads as its last sample. */
  procs: Map<number, number>;
}

function machineBusyTicks(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  // cpu user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in
  // user, and steal (the hypervisor running something else) is no process's here.
  const [user, nice, system, , , irq, softirq] = line.trim().split(/\s+/).slice(1).map(Number);
  return user! + nice! + system! + irq! + softirq!;
}

function procTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may hold spaces and parentheses: state is field 3, utime 14, stime 15.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return undefined;
  }
}

/**
 * Samples every `everyMs` until stopped, so a phase whose end is known only afterwards (the layer
 * phase ends where the run's finish began) can be cut at the nearest sample.
 */
export class CpuRecorder {
  private readonly samples: CpuSample[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(
    /** The processes to account, by group name (read at every sample, so late starters are seen). */
    private readonly groups: () => Record<string, number[]>,
    everyMs = 200,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  private sample(): void {
    const prev = this.samples.at(-1)?.procs;
    const procs = new Map(prev);
    for (const pid of Object.values(this.groups()).flat()) {
      const t = procTicks(pid);
      if (t !== undefined) procs.set(pid, t);
    }
    this.samples.push({ at: performance.now(), machineBusy: machineBusyTicks(), procs });
  }

  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }

  /**
   * Cores used between `from` and `to` (performance.now() times), each end cut at the nearest
   * sample: the machine's, each group's, and `rest` (the machine less every group).
   */
  between(from: number, to: number): { machine: number; rest: number; groups: Record<string, number> } {
    const nearest = (t: number) => this.samples.reduce((a, b) => (Math.abs(b.at - t) < Math.abs(a.at - t) ? b : a));
    const a = nearest(from);
    const b = nearest(to);
    const seconds = (b.at - a.at) / 1000;
    const cores = (ticks: number) => (seconds > 0 ? Number((ticks / TICKS_PER_SECOND / seconds).toFixed(3)) : 0);
    const groups: Record<string, number> = {};
    let accounted = 0;
    for (const [name, pids] of Object.entries(this.groups())) {
      // A pid missing from the first sample started inside the phase: all its ticks count.
      const ticks = pids.reduce((sum, pid) => sum + (b.procs.get(pid) ?? 0) - (a.procs.get(pid) ?? 0), 0);
      groups[name] = cores(ticks);
      accounted += ticks;
    }
    const machine = b.machineBusy - a.machineBusy;
    return { machine: cores(machine), rest: cores(Math.max(0, machine - accounted)), groups };
  }
}
