import { Redis } from 'ioredis';
import { FlowProducer, Job, Queue, QueueEvents } from 'bullmq';
import { queueName } from '@cmbn/jobs';

/**
 * A job and its state, for the reconcilers. The state is read first: BullMQ writes a job's
 * returnvalue or failedReason in the same script that moves it to completed or failed, so a job
 * read after an ended state carries its outcome. (Read the other way round, a job that ends in
 * between comes back 'failed' with no failedReason.) undefined when the job does not exist.
 */
export async function jobWithState(queue: Queue, id: string): Promise<{ job: Job; state: Awaited<ReturnType<Job['getState']>> } | undefined> {
  const state = await queue.getJobState(id);
  const job = await Job.fromId(queue, id);
  return job ? { job, state } : undefined;
}

/** The coordinator's BullMQ handles, all under one prefix. */
export interface Queues {
  prefix: string;
  redisUrl: string;
  connection: Redis;
  shard: Queue;
  layer: Queue;
  distill: Queue;
  /** The artifact sweeps (POST /v1/gc), consumed by the coordinators themselves. */
  gc: Queue;
  flow: FlowProducer;
  shardEvents: QueueEvents;
  layerEvents: QueueEvents;
  distillEvents: QueueEvents;
  close(): Promise<void>;
}

/**
 * Opens every BullMQ handle of the coordinator. Each connection and handle gets an `error`
 * listener: while Redis restarts they emit ECONNREFUSED and "Connection is closed" errors, which
 * without a listener print `[ioredis] Unhandled error event` (or crash, for an EventEmitter without
 * one). The connections keep retrying (maxRetriesPerRequest: null queues commands until Redis is back).
 */
export async function openQueues(redisUrl: string, prefix: string, onError: (what: string, err: Error) => void = () => {}): Promise<Queues> {
  const redis = (what: string) => {
    const r = new Redis(redisUrl, { maxRetriesPerRequest: null });
    r.on('error', (err: Error) => onError(what, err));
    return r;
  };
  const connection = redis('redis connection');
  const opts = { connection, prefix };
  const shard = new Queue(queueName('shard'), opts);
  const layer = new Queue(queueName('layer'), opts);
  const distill = new Queue(queueName('distill'), opts);
  const gc = new Queue(queueName('gc'), opts);
  const flow = new FlowProducer(opts);
  // QueueEvents block on XREAD, so each gets its own connection.
  const eventConnections = ['shard', 'layer', 'distill'].map((k) => redis(`${k} events connection`));
  const shardEvents = new QueueEvents(queueName('shard'), { connection: eventConnections[0]!, prefix });
  const layerEvents = new QueueEvents(queueName('layer'), { connection: eventConnections[1]!, prefix });
  const distillEvents = new QueueEvents(queueName('distill'), { connection: eventConnections[2]!, prefix });
  const handles: [string, { on(ev: 'error', fn: (err: Error) => void): unknown }][] = [
    ['shard queue', shard],
    ['layer queue', layer],
    ['distill queue', distill],
    ['gc queue', gc],
    ['flow producer', flow],
    ['shard events', shardEvents],
    ['layer events', layerEvents],
    ['distill events', distillEvents],
  ];
  for (const [what, h] of handles) h.on('error', (err) => onError(what, err));
  try {
    await Promise.all([shardEvents.waitUntilReady(), layerEvents.waitUntilReady(), distillEvents.waitUntilReady()]);
  } catch (err) {
    // A failed open leaves no reconnecting client behind (the process could not exit): the
    // handles get a bounded close, and their connections are dropped.
    const closes = Promise.all([shard, layer, distill, gc, flow, shardEvents, layerEvents, distillEvents].map((h) => h.close().catch(() => {})));
    await Promise.race([closes, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
    for (const c of [connection, ...eventConnections]) c.disconnect();
    throw err;
  }
  return {
    prefix,
    redisUrl,
    connection,
    shard,
    layer,
    distill,
    gc,
    flow,
    shardEvents,
    layerEvents,
    distillEvents,
    async close() {
      await Promise.all([shardEvents.close(), layerEvents.close(), distillEvents.close()]);
      await Promise.all([shard.close(), layer.close(), distill.close(), gc.close(), flow.close()]);
      for (const c of [connection, ...eventConnections]) await c.quit().catch(() => c.disconnect());
    },
  };
}
