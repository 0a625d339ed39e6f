/**
 * `cmbn serve MODEL`: the student behind MLflow's scoring protocol (see docs/SERVING.md).
 * MODEL is models:/NAME@ALIAS, models:/NAME/VERSION, models:/NAME/latest or a student directory.
 * Registry models resolve through the one registry interface: the local registry (DATABASE_URL,
 * else the embedded Postgres) or, with --remote, a coordinator's /v1/models API (httpRegistry).
 */
import { availableParallelism } from 'node:os';
import { Option, type Command } from 'commander';
import pino from 'pino';
import type { StudentPrecision } from '@cmbn/distill';
import { floatOption, intOption } from '../options.ts';

interface ServeCliOptions {
  port: number;
  host: string;
  workers: number;
  pollInterval: number;
  threads?: number;
  precision?: StudentPrecision;
  maxBodyMb: number;
  remote?: string;
  token?: string;
  logLevel: string;
}

export async function runServeModel(model: string, o: ServeCliOptions): Promise<void> {
  const { parseServeTarget, registrySource, startServe } = await import('@cmbn/serve');
  const logger = pino({ level: o.logLevel, base: { pid: process.pid, role: 'serve' } });
  const target = parseServeTarget(model);
  const closers: (() => Promise<void>)[] = [];
  let source;
  if (target.kind === 'registry') {
    const { createPrismaRegistry, httpRegistry, openLocalRegistry } = await import('@cmbn/pipeline');
    if (o.remote) {
      const token = o.token ?? process.env.CMBN_API_TOKEN;
      source = registrySource(target.ref, httpRegistry(o.remote, token !== undefined ? { token } : {}), `${model} at ${o.remote}`);
    } else {
      const reg = await openLocalRegistry({ log: (line) => logger.info(line) });
      closers.push(() => reg.close());
      source = registrySource(target.ref, createPrismaRegistry({ store: reg.store }), `${model} (${reg.mode === 'embedded' ? 'embedded registry' : 'DATABASE_URL'})`);
    }
  }
  const threads = o.threads ?? Math.max(1, Math.floor(availableParallelism() / o.workers));
  let running;
  try {
    running = await startServe({
      model: source ? { source, follow: target.kind === 'registry' && target.follow, uri: model } : { dir: model },
      host: o.host,
      port: o.port,
      workers: o.workers,
      maxBodyBytes: Math.round(o.maxBodyMb * 1024 * 1024),
      pollIntervalMs: Math.round(o.pollInterval * 1000),
      threads,
      ...(o.precision ? { precision: o.precision } : {}),
      logger,
    });
  } catch (err) {
    for (const c of closers) await c();
    throw err;
  }
  const stop = async () => {
    logger.info('shutting down');
    await running.close();
    for (const c of closers) await c();
    process.exit(0);
  };
  let stopping = false;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (stopping) process.exit(1); // a second signal: at once
      stopping = true;
      setTimeout(() => process.exit(1), 10_000).unref();
      void stop();
    });
  }
}

const seconds = (name: string) => (v: string) => {
  const s = floatOption(name)(v);
  if (s < 0.1 || s > 3600) throw new Error(`${name} must be between 0.1 and 3600 seconds, got ${v}`);
  return s;
};

export function addServeModelCommand(program: Command): void {
  program
    .command('serve')
    .argument('<model>', 'models:/NAME@ALIAS (followed as it moves), models:/NAME/VERSION, models:/NAME/latest, or a student directory')
    .description("serve a student over HTTP with MLflow's scoring protocol: POST /invocations, GET /ping /health /version /metrics")
    .option('--port <n>', 'TCP port (0: any free port)', intOption('--port', 0), 8000)
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--workers <n>', 'server processes behind the one port', intOption('--workers', 1), 1)
    .option('--poll-interval <seconds>', 'how often an alias (or latest) is re-resolved in the registry', seconds('--poll-interval'), 10)
    .option('--threads <n>', 'onnxruntime threads per server process (default: cores / workers)', intOption('--threads', 1))
    .addOption(new Option('--precision <p>', 'onnxruntime precision (default int8, as `cmbn predict`)').choices(['fp32', 'int8']))
    .option('--max-body-mb <n>', 'largest accepted request body, MiB (413 above)', floatOption('--max-body-mb'), 64)
    .option('--remote <url>', "resolve models:/ through a coordinator's /v1/models API instead of the local registry")
    .option('--token <token>', 'API token for --remote (default $CMBN_API_TOKEN)')
    .option('--log-level <level>', 'pino log level (logs are JSON lines on stdout)', 'info')
    .action(async (model: string, o: ServeCliOptions) => runServeModel(model, o));
}
