import type { Command } from 'commander';
import { intOption } from '../options.ts';

/**
 * `cmbn coordinator [--port N]` and `cmbn worker [--concurrency N]`. Everything else comes from
 * the environment (see docs/API.md); the apps are imported lazily so `cmbn train` stays light.
 */
export function addServeCommands(program: Command): void {
  program
    .command('coordinator')
    .description('run the coordinator: HTTP API and run orchestration (env: DATABASE_URL, REDIS_URL, CMBN_ARTIFACTS, CMBN_API_TOKEN, …)')
    .option('--port <n>', 'HTTP port (default $PORT, else 8080)', intOption('--port', 0))
    .action(async (o: { port?: number }) => {
      const { runCoordinatorProcess } = await import('@cmbn/coordinator');
      await runCoordinatorProcess(o.port === undefined ? {} : { port: o.port });
    });

  program
    .command('worker')
    .description('run one worker process computing shards from the queue (env: REDIS_URL, CMBN_ARTIFACTS, CMBN_QUEUE_PREFIX, …)')
    .option('--concurrency <n>', 'shards computed at once, one compute thread each (default $CMBN_WORKER_CONCURRENCY, else 1)', intOption('--concurrency', 1))
    .action(async (o: { concurrency?: number }) => {
      const { runWorkerProcess } = await import('@cmbn/worker');
      await runWorkerProcess(o.concurrency === undefined ? {} : { concurrency: o.concurrency });
    });
}
