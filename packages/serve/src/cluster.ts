/**
 * `--workers N`: N server processes behind one port (node:cluster shares the listening socket).
 * The primary answers no HTTP itself; it holds the registry connection and the cache, and tells
 * the workers what to load (ipc.ts). A worker that dies is replaced with the current version.
 */
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { mergeSnapshots, type MetricsSnapshot } from './metrics.ts';
import { WORKER_CONFIG_ENV, ZToPrimary, type TToWorker, type TWorkerConfig } from './ipc.ts';
import type { LoadOrder, ServeOptions, Servers } from './serve.ts';
import type { ServedVersion } from './served-model.ts';

const WORKER_ENTRY = fileURLToPath(new URL('./worker-entry.js', import.meta.url));
const SCRAPE_TIMEOUT_MS = 2_000;
const EXIT_GRACE_MS = 5_000;
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;

type Waiter = { resolve: (v: unknown) => void; reject: (e: Error) => void };

/**
 * A shared/exclusive lock over promises: any number of `shared` tasks run together; an
 * `exclusive` one waits for those running, and tasks started after it wait for it. Exclusive
 * tasks run one at a time, in call order.
 */
export function sharedExclusive(): {
  shared<T>(task: () => Promise<T>): Promise<T>;
  exclusive<T>(task: () => Promise<T>): Promise<T>;
} {
  const running = new Set<Promise<unknown>>();
  let gate: Promise<unknown> = Promise.resolve();
  const settled = (p: Promise<unknown>) => p.then(() => undefined, () => undefined);
  return {
    async shared(task) {
      await gate;
      const p = task();
      const done = settled(p);
      running.add(done);
      void done.then(() => running.delete(done));
      return p;
    },
    exclusive(task) {
      const p = gate.then(async () => {
        await Promise.all([...running]);
        return task();
      });
      gate = settled(p);
      return p;
    },
  };
}

export async function startCluster(o: ServeOptions, first: LoadOrder): Promise<Servers> {
  const log = o.logger;
  const config: TWorkerConfig = {
    host: o.host,
    port: o.port,
    maxBodyBytes: o.maxBodyBytes,
    ...(o.requestTimeoutMs ? { requestTimeoutMs: o.requestTimeoutMs } : {}),
    logLevel: log.level,
  };
  // The entry registers tsx itself, so no loader flags are inherited (the CLI may run under either).
  cluster.setupPrimary({ exec: WORKER_ENTRY, execArgv: [], args: [], silent: false });
  const workers = new Set<Worker>();
  /** Workers that have joined: loaded and committed an order, so a delivery must reach them. */
  const live = new Set<Worker>();
  const joins = sharedExclusive();
  const waiters = new Map<string, Waiter>();
  let nextId = 0;
  let closing = false;
  let currentOrder = first;
  let restarts: number[] = [];

  const wait = <T>(key: string, ms?: number): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const timer = ms ? setTimeout(() => (waiters.delete(key), reject(new Error(`${key} timed out`))), ms) : undefined;
      waiters.set(key, {
        resolve: (v) => (clearTimeout(timer), resolve(v as T)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
    });
  const settle = (key: string, v: unknown, err?: Error) => {
    const w = waiters.get(key);
    if (!w) return;
    waiters.delete(key);
    if (err) w.reject(err);
    else w.resolve(v);
  };
  const send = (w: Worker, m: TToWorker) => {
    if (w.isConnected()) w.send(m);
  };

  const scrape = async (): Promise<{ snapshot: MetricsSnapshot; workers: number }> => {
    const id = ++nextId;
    const replies = await Promise.all(
      [...workers].map((w) => {
        const p = wait<MetricsSnapshot>(`snapshot:${w.id}:${id}`, SCRAPE_TIMEOUT_MS).catch(() => undefined);
        send(w, { type: 'snapshot', id });
        return p;
      }),
    );
    const got = replies.filter((s): s is MetricsSnapshot => s !== undefined);
    return { snapshot: mergeSnapshots(got), workers: workers.size };
  };

  /** Loads `order` in `w` (phase one); resolves with what it loaded. */
  const prepare = (w: Worker, id: number, order: LoadOrder) => {
    const p = wait<ServedVersion>(`prepared:${w.id}:${id}`);
    send(w, { type: 'prepare', id, order });
    return p;
  };
  const commit = (w: Worker, id: number) => {
    const p = wait<void>(`committed:${w.id}:${id}`);
    send(w, { type: 'commit', id });
    return p;
  };

  const fork = async (): Promise<{ worker: Worker; info: ServedVersion; port: number }> => {
    const w = cluster.fork({ [WORKER_CONFIG_ENV]: JSON.stringify(config) });
    workers.add(w);
    w.on('message', (raw: unknown) => {
      const parsed = ZToPrimary.safeParse(raw);
      if (!parsed.success) return log.error({ worker: w.id }, 'unreadable message from a worker');
      const m = parsed.data;
      if (m.type === 'ready') settle(`ready:${w.id}`, undefined);
      else if (m.type === 'prepared') settle(`prepared:${w.id}:${m.id}`, m.info);
      else if (m.type === 'prepare-failed') settle(`prepared:${w.id}:${m.id}`, undefined, new Error(m.message));
      else if (m.type === 'committed') settle(`committed:${w.id}:${m.id}`, undefined);
      else if (m.type === 'listening') settle(`listening:${w.id}`, m.port);
      else if (m.type === 'snapshot') settle(`snapshot:${w.id}:${m.id}`, m.snapshot);
      else if (m.type === 'metrics?') void scrape().then((s) => send(w, { type: 'metrics', id: m.id, ...s }));
    });
    w.on('exit', (code, signal) => {
      workers.delete(w);
      live.delete(w);
      for (const key of [...waiters.keys()]) if (key.split(':')[1] === String(w.id)) settle(key, undefined, new Error(`worker ${w.id} exited (${signal ?? code})`));
      if (closing) return;
      // Replace it, unless processes keep dying (a crash loop would only burn the CPU).
      const now = Date.now();
      restarts = restarts.filter((t) => now - t < RESTART_WINDOW_MS);
      if (restarts.length >= MAX_RESTARTS) {
        log.error({ worker: w.id, code, signal, live: workers.size }, `a server process exited; ${MAX_RESTARTS} restarts within a minute already, not replacing it`);
        return;
      }
      restarts.push(now);
      log.error({ worker: w.id, code, signal }, 'a server process exited; starting a replacement');
      fork().catch((err: unknown) => log.error({ err: (err as Error).message }, 'the replacement server process failed'));
    });
    const ready = wait<void>(`ready:${w.id}`);
    await ready;
    const listening = wait<number>(`listening:${w.id}`);
    // Joining (load the current order, then serve it) never interleaves with a delivery: otherwise
    // a replacement that started while a move was being delivered could commit the old order after
    // the fleet committed the new one, and serve the old version for good.
    const info = await joins.shared(async () => {
      const id = ++nextId;
      const loaded = await prepare(w, id, currentOrder);
      await commit(w, id);
      live.add(w);
      return loaded;
    });
    return { worker: w, info, port: await listening };
  };

  let started;
  try {
    started = await Promise.all(Array.from({ length: o.workers }, () => fork()));
  } catch (err) {
    closing = true;
    for (const w of workers) w.process.kill('SIGKILL');
    throw err;
  }

  return {
    port: started[0]!.port,
    initial: started[0]!.info,
    deliver: (order) =>
      joins.exclusive(async () => {
        const id = ++nextId;
        // Only processes that serve already; one still joining loads `currentOrder` after this.
        const fleet = [...live];
        // Nothing can verify the order now; left as it was, the next poll delivers it again.
        if (fleet.length === 0) throw new Error('no server process is up to load it (every one is being replaced)');
        const results = await Promise.allSettled(fleet.map((w) => prepare(w, id, order)));
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) {
          for (const w of fleet) send(w, { type: 'abort', id });
          throw failed.reason as Error;
        }
        // Every process has the new version loaded beside the old one: now each swaps (one message).
        await Promise.all(fleet.map((w) => commit(w, id)));
        currentOrder = order;
        return (results[0] as PromiseFulfilledResult<ServedVersion>).value;
      }),
    async close() {
      closing = true;
      const exits = [...workers].map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            const t = setTimeout(() => (w.process.kill('SIGKILL'), resolve()), EXIT_GRACE_MS);
            w.once('exit', () => (clearTimeout(t), resolve()));
            send(w, { type: 'shutdown' });
          }),
      );
      await Promise.all(exits);
    },
  };
}
