/**
 * `cmbn serve`: load the first version, listen, and (for an alias or `latest`) follow the registry.
 * The process that follows the registry fetches each new version into a private cache directory;
 * the processes that answer requests (this one, or the `--workers` processes) load it from there,
 * verify its sha256, and swap it in. A version that fails to fetch, verify or load is logged and
 * skipped: the previous one keeps serving, and the next poll tries again.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { StudentPrecision } from '@cmbn/distill';
import { startCluster } from './cluster.ts';
import { createHttpServe } from './http-server.ts';
import { sameVersion, type ModelSource, type ResolvedVersion } from './model-source.ts';
import { loadServedModel, type LoadModelOptions, type ServedVersion } from './served-model.ts';

export interface ServeOptions {
  /** Registry-backed, or a plain student directory. */
  model: { source: ModelSource; follow: boolean; uri: string } | { dir: string };
  host: string;
  port: number;
  workers: number;
  maxBodyBytes: number;
  /** Alias polling period, ms. */
  pollIntervalMs: number;
  threads?: number;
  precision?: StudentPrecision;
  logger: Logger;
  requestTimeoutMs?: number;
}

export interface RunningServe {
  url: string;
  port: number;
  /** The version the processes serve (after the last completed swap). */
  served(): ServedVersion;
  close(): Promise<void>;
}

/** What a serving process needs to load one version (sent over IPC to --workers). */
export interface LoadOrder {
  dir: string;
  load: LoadModelOptions;
}

/** The processes that answer requests: this one, or a node:cluster fleet. */
export interface Servers {
  port: number;
  /** The first order's version, loaded by every process before it listened. */
  initial: ServedVersion;
  /** Resolves once every process serves the order's version, rejects if any could not load it. */
  deliver(order: LoadOrder): Promise<ServedVersion>;
  close(): Promise<void>;
}

async function inProcess(o: ServeOptions, first: LoadOrder): Promise<Servers> {
  const http = createHttpServe({ host: o.host, port: o.port, maxBodyBytes: o.maxBodyBytes, logger: o.logger, ...(o.requestTimeoutMs ? { requestTimeoutMs: o.requestTimeoutMs } : {}) });
  const deliver = async (order: LoadOrder) => {
    const model = await loadServedModel(order.dir, order.load);
    const swapped = http.holder.swap(model) !== undefined;
    http.metrics.served(model.info.name ?? model.info.source, String(model.info.version ?? model.info.artifactSha256.slice(0, 12)), swapped);
    return model.info;
  };
  const initial = await deliver(first);
  const port = await http.listen();
  return { port, initial, deliver, close: () => http.close() };
}

export async function startServe(o: ServeOptions): Promise<RunningServe> {
  const log = o.logger;
  const common = { ...(o.threads !== undefined ? { threads: o.threads } : {}), ...(o.precision ? { precision: o.precision } : {}) };
  const cache = 'source' in o.model ? await mkdtemp(join(tmpdir(), 'cmbn-serve-')) : undefined;
  let fetches = 0;
  const fetchOrder = async (src: ModelSource, uri: string, v: ResolvedVersion): Promise<LoadOrder> => {
    const dir = join(cache!, `${v.name}-${v.version}-${++fetches}`);
    await src.fetch(v, dir);
    return { dir, load: { source: uri, name: v.name, version: v.version, expectedSha256: v.artifactSha256, ...common } };
  };

  let current: ResolvedVersion | undefined;
  let first: LoadOrder;
  let servers: Servers;
  try {
    if ('source' in o.model) {
      current = await o.model.source.resolve();
      first = await fetchOrder(o.model.source, o.model.uri, current);
    } else {
      first = { dir: o.model.dir, load: { source: o.model.dir, ...common } };
    }
    servers = o.workers > 1 ? await startCluster(o, first) : await inProcess(o, first);
  } catch (err) {
    if (cache) await rm(cache, { recursive: true, force: true });
    throw err;
  }
  let served = servers.initial;
  const label = (s: ServedVersion) => (s.name !== undefined ? `${s.name}:${s.version}` : s.source);
  const url = `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${servers.port}`;
  log.info({ url, model: label(served), artifactSha256: served.artifactSha256, workers: o.workers }, `serving ${label(served)} on ${url}`);

  let lastDir = first.dir;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let polling: Promise<void> = Promise.resolve();
  if ('source' in o.model && o.model.follow) {
    const { source, uri } = o.model;
    const poll = async () => {
      try {
        const v = await source.resolve();
        if (current && sameVersion(v, current)) return;
        const t0 = performance.now();
        const order = await fetchOrder(source, uri, v);
        try {
          served = await servers.deliver(order);
        } catch (err) {
          await rm(order.dir, { recursive: true, force: true });
          throw err;
        }
        const previous = current;
        current = v;
        await rm(lastDir, { recursive: true, force: true });
        lastDir = order.dir;
        log.info(
          { model: label(served), previous: previous ? `${previous.name}:${previous.version}` : null, artifactSha256: v.artifactSha256, seconds: (performance.now() - t0) / 1000 },
          `${uri} moved: now serving ${label(served)}`,
        );
      } catch (err) {
        log.warn({ err: (err as Error).message }, `polling ${source.description} failed; still serving ${label(served)}`);
      }
    };
    const schedule = () => {
      if (stopped) return;
      timer = setTimeout(() => {
        polling = poll().finally(schedule);
      }, o.pollIntervalMs);
    };
    schedule();
  }
  return {
    url,
    port: servers.port,
    served: () => served,
    async close() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await polling;
      await servers.close();
      if (cache) await rm(cache, { recursive: true, force: true });
    },
  };
}
