/**
 * The start-up sweep of simulated networks left behind by a suite that could not clean up (SIGKILL,
 * OOM kill, power cut of a VM): its namespaces, veths and bridge stay, and their 198.18.0.0/24
 * blocks count as used, so eight such leftovers would exhaust the range.
 *
 * A network is swept only when (1) its names are exactly the shapes netns.ts gives them, with its
 * 6-hex-digit id, and (2) the process that made it is gone. (2) matters because a test and a bench
 * may run side by side: each network's owner is recorded (pid and kernel start time, so a reused pid
 * does not count as alive) in OWNERS_DIR before anything is created, and a network whose owner is
 * alive is never touched. Nothing whose name lacks the suite's prefix is ever touched.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** Beside /run/netns: the same tmpfs lifetime as the namespaces themselves. */
export const OWNERS_DIR = '/run/cmbn-hosts';

// The names netns.ts builds, anchored so that nothing else on the machine can match (e.g. `cbr0`,
// kubenet's bridge, or a namespace someone called `cmbnh-test`).
const NAME_SHAPES: { kind: 'namespace' | 'link'; re: RegExp }[] = [
  { kind: 'namespace', re: /^cmbnh-([0-9a-f]{6})-[A-Za-z0-9_.-]+$/ },
  { kind: 'link', re: /^cbr([0-9a-f]{6})$/ },
  { kind: 'link', re: /^cv([0-9a-f]{6})h\d{1,2}$/ },
];

/** The network id a namespace or link name carries when it is one of netns.ts' names, else null. */
export function networkIdOf(kind: 'namespace' | 'link', name: string): string | null {
  for (const s of NAME_SHAPES) {
    if (s.kind !== kind) continue;
    const m = s.re.exec(name);
    if (m) return m[1]!;
  }
  return null;
}

export interface Inventory {
  namespaces: string[];
  links: string[];
}

/** What the sweep removes: the suite-named namespaces and links of networks whose owner is not alive. */
export function selectLeftovers(inv: Inventory, isLive: (id: string) => boolean): Inventory & { ids: string[] } {
  const ids = new Set<string>();
  const pick = (kind: 'namespace' | 'link', names: string[]) =>
    names.filter((n) => {
      const id = networkIdOf(kind, n);
      if (id === null || isLive(id)) return false;
      ids.add(id);
      return true;
    });
  const namespaces = pick('namespace', inv.namespaces);
  const links = pick('link', inv.links);
  return { ids: [...ids].sort(), namespaces, links };
}

/** The kernel's start time of a process (clock ticks since boot, /proc/<pid>/stat field 22), or null when it is gone. */
function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may itself hold spaces.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** Records this process as the owner of network `id`; call before creating anything of it. */
export function recordOwner(id: string): void {
  mkdirSync(OWNERS_DIR, { recursive: true });
  writeFileSync(join(OWNERS_DIR, id), JSON.stringify({ pid: process.pid, start: startTime(process.pid) }));
}

export function forgetOwner(id: string): void {
  rmSync(join(OWNERS_DIR, id), { force: true });
}

/** Whether the process that recorded network `id` still runs (no record: a dead or pre-record suite). */
export function ownerAlive(id: string): boolean {
  try {
    const { pid, start } = JSON.parse(readFileSync(join(OWNERS_DIR, id), 'utf8')) as { pid: number; start: string | null };
    return start !== null && startTime(pid) === start;
  } catch {
    return false;
  }
}

async function inventory(): Promise<Inventory> {
  const [ns, links] = await Promise.all([exec('ip', ['netns', 'list']), exec('ip', ['-o', 'link', 'show'])]);
  return {
    // `NAME (id: 3)` per line.
    namespaces: ns.stdout.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter(Boolean),
    // `12: NAME@PEER: <FLAGS> …` per line; the peer part is not the name.
    links: [...links.stdout.matchAll(/^\d+:\s+([^:@\s]+)/gm)].map((m) => m[1]!),
  };
}

const quiet = (fn: () => void) => {
  try {
    fn();
  } catch {
    /* already gone */
  }
};

/**
 * Removes the leftovers of dead suites and says on stderr what it removed. Processes still inside a
 * leftover namespace (a killed suite's servers) are killed first, or they would keep it alive.
 */
export async function sweepLeftovers(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Promise<Inventory & { ids: string[] }> {
  const found = selectLeftovers(await inventory(), ownerAlive);
  for (const ns of found.namespaces) {
    quiet(() => {
      for (const pid of execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split('\n').filter(Boolean)) quiet(() => process.kill(Number(pid), 'SIGKILL'));
    });
    quiet(() => execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }));
  }
  // A namespace's deletion takes its veth pair with it; what is left is the bridge and stray veths.
  for (const link of found.links) quiet(() => execFileSync('ip', ['link', 'del', link], { stdio: 'ignore' }));
  for (const id of found.ids) forgetOwner(id);
  if (found.ids.length > 0) {
    log(`hosts: swept ${found.ids.length} network(s) left by dead suites (${found.ids.join(', ')}): namespaces ${found.namespaces.join(' ') || '-'}; links ${found.links.join(' ') || '-'}`);
  }
  return found;
}
