/**
 * Simulated hosts: one Linux network namespace per host, each joined to a private bridge by a veth
 * pair, addressed inside 198.18.0.0/24 (RFC 2544's benchmarking range, never routed). The test's own
 * process stays in the root namespace and reaches every host through the bridge's address, so it
 * can probe services and inject faults without entering a namespace.
 *
 * Each network gets a random id in its names and a free /27 block of 198.18.0.0/24, so two suites
 * (a test and a bench) can run side by side. Everything is removed by destroy(), and, should the
 * process die first, by a synchronous hook on exit; what a SIGKILLed process leaves is removed by
 * the next suite's start-up sweep (sweep.ts), which spares networks whose owner still runs.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { forgetOwner, recordOwner, sweepLeftovers } from './sweep.ts';

const exec = promisify(execFile);

export interface Host {
  /** Short name given by the caller (e.g. 'services', 'worker1'). */
  name: string;
  /** Network namespace name (`ip netns exec <ns> …`). */
  ns: string;
  /** The host's 198.18.0.x address. */
  addr: string;
  /** The veth end on the bridge (root namespace): `ip link set <it> down` cuts the host off. */
  link: string;
  /** `ip netns exec <ns>`: prefix for spawn. */
  wrap: string[];
}

export interface Network {
  id: string;
  bridge: string;
  /** The bridge's address in the root namespace (the test process's address on this network). */
  gateway: string;
  hosts: Record<string, Host>;
  linkDown(host: string): Promise<void>;
  linkUp(host: string): Promise<void>;
  destroy(): Promise<void>;
}

async function ip(...args: string[]): Promise<string> {
  try {
    return (await exec('ip', args)).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')} failed: ${(e.stderr ?? e.message).trim()}`);
  }
}

/** The /27 blocks of 198.18.0.0/24 that no interface of the root namespace uses yet. */
async function freeBlocks(): Promise<number[]> {
  const used = new Set<number>();
  for (const m of (await ip('-o', '-4', 'addr', 'show')).matchAll(/inet 198\.18\.0\.(\d+)\//g)) used.add(Math.floor(Number(m[1]) / 32));
  return [0, 1, 2, 3, 4, 5, 6, 7].filter((b) => !used.has(b));
}

const live = new Set<() => void>();
process.on('exit', () => {
  for (const cleanup of live) cleanup();
});
// Node runs no 'exit' handlers when a signal ends the process (a cancelled CI job, Ctrl-C): turn
// the signal into an exit, so the namespaces, the bridge and everything inside them (procs.ts'
// servers too) are torn down. SIGKILL still cannot be caught; see docs/FAULTS.md.
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
  process.once(signal, () => process.exit(code));
}

/** Once per process, before its first network: leftovers of dead suites would hold blocks and names. */
let swept: Promise<unknown> | undefined;

/**
 * Builds the namespaces for `names` (at most 29 hosts per network). Fails with a readable message
 * when namespaces cannot be made (not root, no iproute2, no veth/bridge support): the suite must
 * fail, never skip, when it cannot build its hosts.
 */

export async function createNetwork(names: string[]): Promise<Network> {
  if (names.length > 29) throw new Error('at most 29 hosts per /27 network');
  swept ??= sweepLeftovers().catch((err: unknown) => {
    throw new Error(`cannot sweep the leftovers of earlier suites (run as root with iproute2): ${(err as Error).message}`);
  });
  await swept;
  const id = randomBytes(3).toString('hex');
  const blocks = await freeBlocks();
  const block = blocks[randomBytes(1)[0]! % Math.max(1, blocks.length)];
  if (block === undefined) throw new Error('no free /27 block left in 198.18.0.0/24 for a test network');
  const base = block * 32;
  const bridge = `cbr${id}`;
  const gateway = `198.18.0.${base + 1}`;
  const hosts: Record<string, Host> = {};
  const nsNames: string[] = [];

  // Synchronous so that it also runs from process.on('exit'); idempotent (every step may already be gone).
  const cleanupSync = () => {
    for (const ns of nsNames) {
      try {
        // Processes left inside (a crashed test's services) would keep the namespace alive.
        const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split('\n').filter(Boolean);
        for (const pid of pids) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
      } catch {
        /* namespace gone */
      }
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        /* already gone */
      }
    }
    try {
      execFileSync('ip', ['link', 'del', bridge], { stdio: 'ignore' });
    } catch {
      /* already gone */
    }
    forgetOwner(id);
  };
  // Before anything of it exists, so a concurrent suite's sweep sees this network as alive.
  recordOwner(id);
  live.add(cleanupSync);

  try {
    await ip('link', 'add', bridge, 'type', 'bridge');
    await ip('addr', 'add', `${gateway}/27`, 'dev', bridge);
    await ip('link', 'set', bridge, 'up');
    for (const [i, name] of names.entries()) {
      const ns = `cmbnh-${id}-${name}`;
      const link = `cv${id}h${i}`;
      const addr = `198.18.0.${base + 2 + i}`;
      await ip('netns', 'add', ns);
      nsNames.push(ns);
      // The peer is created inside the namespace, so it can be called eth0 there like a real host's NIC.
      await ip('link', 'add', link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      await ip('link', 'set', link, 'master', bridge, 'up');
      await ip('-n', ns, 'addr', 'add', `${addr}/27`, 'dev', 'eth0');
      await ip('-n', ns, 'link', 'set', 'eth0', 'up');
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
      hosts[name] = { name, ns, addr, link, wrap: ['ip', 'netns', 'exec', ns] };
    }
  } catch (err) {
    cleanupSync();
    live.delete(cleanupSync);
    throw new Error(`cannot build the simulated hosts (network namespaces, run as root with iproute2): ${(err as Error).message}`);
  }

  const host = (name: string): Host => {
    const h = hosts[name];
    if (!h) throw new Error(`no host ${name}`);
    return h;
  };
  return {
    id,
    bridge,
    gateway,
    hosts,
    linkDown: async (name) => void (await ip('link', 'set', host(name).link, 'down')),
    linkUp: async (name) => void (await ip('link', 'set', host(name).link, 'up')),
    destroy: async () => {
      cleanupSync();
      live.delete(cleanupSync);
    },
  };
}
