/**
 * failedChildren against a real BullMQ flow on the machine's Redis: the coordinator finds which shard
 * failed a layer through the parent's dependencies, not its message text (issue 9, section 5).
 */
import { randomUUID } from 'node:crypto';
import { FlowProducer, Job, Queue, QueueEvents, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { failedChildren } from './flow-children.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `cmbn-test-flow-${randomUUID()}`;
const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
connection.on('error', () => {});
const closers: (() => Promise<unknown>)[] = [];

afterAll(async () => {
  for (const close of closers.reverse()) await close();
  const keys = await connection.keys(`${prefix}:*`);
  if (keys.length) await connection.del(...keys);
  await connection.quit();
});

describe('failedChildren', () => {
  it('names exactly the children that failed their parent, whatever the messages say', async () => {
    const flows = new FlowProducer({ connection, prefix });
    const parents = new Queue('layer', { connection, prefix });
    const events = new QueueEvents('layer', { connection: connection.duplicate(), prefix });
    closers.push(() => flows.close(), () => parents.close(), () => events.close());
    await events.waitUntilReady();
    // The children's messages mention other ids on purpose: a reader of message text would be misled.
    const children = new Worker(
      'shard',
      async (job) => {
        if (job.data.fail) throw new UnrecoverableError(`shard ${job.data.other} failed (not really: ${job.id} did)`);
        return 'ok';
      },
      { connection, prefix, concurrency: 4 },
    );
    closers.push(() => children.close());
    // In BullMQ 5 a child's failure moves its parent back to waiting; the parent's worker then fails it.
    let processed = 0;
    const layers = new Worker(
      'layer',
      async () => {
        processed++;
        return 'assembled';
      },
      { connection, prefix },
    );
    closers.push(() => layers.close());
    const child = (id: string, fail: boolean, other: string) => ({
      name: 'shard',
      queueName: 'shard',
      data: { fail, other },
      opts: { jobId: id, failParentOnFailure: true, attempts: 1 },
    });
    const tree = await flows.add({
      name: 'layer',
      queueName: 'layer',
      data: {},
      opts: { jobId: 'run-1-layer-1' },
      children: [child('s-0', false, 's-2'), child('s-1', true, 's-0'), child('s-2', false, 's-1'), child('s-3', false, 's-1')],
    });
    const failedParent = new Promise<void>((resolve) => {
      events.on('failed', ({ jobId }) => {
        if (jobId === tree.job.id) resolve();
      });
    });
    await failedParent;
    expect(processed).toBe(0); // failed without being run
    expect(await (await Job.fromId(parents, tree.job.id!))!.getState()).toBe('failed');
    const parent = await Job.fromId(parents, tree.job.id!);
    expect(parent).toBeDefined();
    expect(await failedChildren(parent!, `${prefix}:shard`)).toEqual(['s-1']);
    // Children of another queue are not reported under this one.
    expect(await failedChildren(parent!, `${prefix}:other`)).toEqual([]);
  }, 60_000);
});
