/** One `--workers` server process: loads what the primary tells it (ipc.ts) and answers HTTP. */
import pino from 'pino';
import { createHttpServe } from './http-server.ts';
import { WORKER_CONFIG_ENV, ZToWorker, ZWorkerConfig, type TToPrimary } from './ipc.ts';
import type { MetricsSnapshot } from './metrics.ts';
import { loadServedModel, type LoadedModel } from './served-model.ts';

const config = ZWorkerConfig.parse(JSON.parse(process.env[WORKER_CONFIG_ENV] ?? 'null'));
const log = pino({ level: config.logLevel, base: { pid: process.pid, role: 'serve-worker' } });
const send = (m: TToPrimary) => process.send?.(m);

const scrapes = new Map<number, (v: { snapshot: MetricsSnapshot; workers: number }) => void>();
let scrapeId = 0;
const http = createHttpServe({
  host: config.host,
  port: config.port,
  maxBodyBytes: config.maxBodyBytes,
  logger: log,
  ...(config.requestTimeoutMs ? { requestTimeoutMs: config.requestTimeoutMs } : {}),
  // A scrape of any one process reports the whole fleet: the primary sums every worker's snapshot.
  collectMetrics: () =>
    new Promise((resolve) => {
      const id = ++scrapeId;
      scrapes.set(id, resolve);
      send({ type: 'metrics?', id });
    }),
});

const prepared = new Map<number, LoadedModel>();
let listening = false;
let shuttingDown = false;

async function shutdown(code: number): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  for (const m of prepared.values()) await m.dispose();
  await http.close();
  process.exit(code);
}

process.on('message', (raw: unknown) => {
  const parsed = ZToWorker.safeParse(raw);
  if (!parsed.success) return log.error('unreadable message from the primary');
  const m = parsed.data;
  switch (m.type) {
    case 'prepare':
      loadServedModel(m.order.dir, m.order.load).then(
        (model) => {
          prepared.set(m.id, model);
          send({ type: 'prepared', id: m.id, info: model.info });
        },
        (err: unknown) => send({ type: 'prepare-failed', id: m.id, message: (err as Error).message }),
      );
      break;
    case 'commit': {
      const model = prepared.get(m.id);
      if (!model) break;
      prepared.delete(m.id);
      const swapped = http.holder.swap(model) !== undefined;
      http.metrics.served(model.info.name ?? model.info.source, String(model.info.version ?? model.info.artifactSha256.slice(0, 12)), swapped);
      send({ type: 'committed', id: m.id });
      if (!listening) {
        listening = true;
        http.listen().then(
          (port) => send({ type: 'listening', port }),
          (err: unknown) => {
            log.error({ err: (err as Error).message }, 'cannot listen');
            void shutdown(1);
          },
        );
      }
      break;
    }
    case 'abort': {
      const model = prepared.get(m.id);
      prepared.delete(m.id);
      void model?.dispose();
      break;
    }
    case 'snapshot':
      send({ type: 'snapshot', id: m.id, snapshot: http.metrics.snapshot() });
      break;
    case 'metrics':
      scrapes.get(m.id)?.({ snapshot: m.snapshot, workers: m.workers });
      scrapes.delete(m.id);
      break;
    case 'shutdown':
      void shutdown(0);
      break;
  }
});
// The primary owns the lifetime: Ctrl-C reaches the whole process group, and the primary then
// sends 'shutdown'; a primary that vanished (disconnect) ends the worker too.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => void shutdown(0));
process.on('disconnect', () => void shutdown(0));
send({ type: 'ready' });
