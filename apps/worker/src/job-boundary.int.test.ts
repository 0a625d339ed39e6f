/**
 * The job boundary against a real BullMQ queue on Redis (unique prefix): a hopeless job fails on
 * its first attempt with BullMQ's own UnrecoverableError; a retryable one spends its attempts.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, QueueEvents, UnrecoverableError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadInputError, CancelledError, UnrecoverableJobError, queueName, toJobError } from '@cmbn/jobs';
import { HopelessJobError, toBullmqError } from '@cmbn/jobs';
import { startWorker } from './worker.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `cmbntest-boundary-${randomBytes(4).toString('hex')}`;
const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
// QueueEvents blocks on its connection, so it gets its own (options, not the shared client).
const eventsConnection = { host: new URL(REDIS_URL).hostname, port: Number(new URL(REDIS_URL).port || 6379) };

/** Resolves with the job once BullMQ moved it to `failed` for good (no retry left or allowed). */
async function finallyFailed(events: QueueEvents, queue: Queue, jobId: string): Promise<Job> {
  await new Promise<void>((resolve) => {
    const on = ({ jobId: id }: { jobId: string }) => {
      if (id !== jobId) return;
      events.off('failed', on);
      resolve();
    };
    events.on('failed', on);
  });
  return (await queue.getJob(jobId))!;
}

afterAll(async () => {
  const keys = await connection.keys(`${prefix}:*`);
  if (keys.length > 0) await connection.del(...keys);
  connection.disconnect();
});

describe('toBullmqError', () => {
  it('turns the look-alike of @cmbn/jobs into an instance of BullMQ UnrecoverableError, keeping kind and cause', () => {
    const bad = new BadInputError('layer input is corrupt');
    // What @cmbn/jobs alone gives: BullMQ's name, not its class.
    const lookAlike = toJobError(bad, 'shard');
    expect(lookAlike).toBeInstanceOf(UnrecoverableJobError);
    expect(lookAlike).not.toBeInstanceOf(UnrecoverableError);
    const real = toBullmqError(bad, 'shard');
    expect(real).toBeInstanceOf(UnrecoverableError);
    expect(real).toBeInstanceOf(HopelessJobError);
    expect({ name: real.name, message: real.message, kind: (real as HopelessJobError).kind, cause: real.cause }).toEqual({
      name: 'UnrecoverableError',
      message: 'shard: layer input is corrupt',
      kind: 'bad-input',
      cause: bad,
    });
    // The recorded stack is the one of where the error was thrown.
    expect(real.stack!.split('\n').slice(0, 2)).toEqual(['UnrecoverableError: shard: layer input is corrupt', bad.stack!.split('\n')[1]]);
    expect((toBullmqError(new CancelledError('run r was cancelled')) as HopelessJobError).kind).toBe('cancelled');
    expect((toBullmqError(new TypeError('x is undefined')) as HopelessJobError).kind).toBe('bug');
    // Retryable errors pass through as they are.
    const flaky = new Error('worker thread exited');
    expect(toBullmqError(flaky)).toBe(flaky);
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(toBullmqError(refused)).toBe(refused);
  });
});

describe('the job boundary on a real BullMQ queue', () => {
  const name = 'boundary-test';
  let queue: Queue;
  let events: QueueEvents;
  beforeAll(async () => {
    queue = new Queue(name, { connection, prefix });
    events = new QueueEvents(name, { connection: eventsConnection, prefix });
    await events.waitUntilReady();
  });
  afterAll(async () => {
    await events.close();
    await queue.close();
  });

  it('a hopeless job fails on its first of 3 attempts; a retryable one uses all 3', async () => {
    const calls = new Map<string, number>();
    const failures: { id: string; err: Error }[] = [];
    const worker = new Worker(
      name,
      async (job: Job<{ hopeless: boolean }>) => {
        calls.set(job.id!, (calls.get(job.id!) ?? 0) + 1);
        throw toBullmqError(job.data.hopeless ? new BadInputError('malformed code artifact') : new Error('worker thread exited'), 'shard');
      },
      { connection, prefix, concurrency: 2 },
    );
    try {
      const hopeless = await queue.add('j', { hopeless: true }, { attempts: 3 });
      const retryable = await queue.add('j', { hopeless: false }, { attempts: 3 });
      worker.on('failed', (job, err) => void (job && failures.push({ id: job.id!, err })));
      const [h, r] = await Promise.all([finallyFailed(events, queue, hopeless.id!), finallyFailed(events, queue, retryable.id!)]);
      expect({ calls: calls.get(h.id!), attemptsMade: h.attemptsMade, state: await h.getState(), reason: h.failedReason }).toEqual({
        calls: 1,
        attemptsMade: 1,
        state: 'failed',
        reason: 'shard: malformed code artifact',
      });
      expect({ calls: calls.get(r.id!), attemptsMade: r.attemptsMade, state: await r.getState() }).toEqual({ calls: 3, attemptsMade: 3, state: 'failed' });
      // What the processor threw for the hopeless job is BullMQ's class itself, not a name look-alike.
      const thrown = failures.filter((f) => f.id === h.id).map((f) => f.err);
      expect(thrown).toHaveLength(1);
      expect(thrown[0]).toBeInstanceOf(UnrecoverableError);
    } finally {
      await worker.close();
    }
  });

  it('startWorker: a shard job with a malformed payload fails on its first of 3 attempts', async () => {
    const artifacts = await mkdtemp(join(tmpdir(), 'cmbn-boundary-'));
    const shardQueue = new Queue(queueName('shard'), { connection, prefix });
    const shardEvents = new QueueEvents(queueName('shard'), { connection: eventsConnection, prefix });
    await shardEvents.waitUntilReady();
    const handle = await startWorker({ redisUrl: REDIS_URL, databaseUrl: 'postgresql://unused@127.0.0.1:1/none', artifacts, prefix, cacheDir: join(artifacts, 'cache'), jobs: ['shard'], prefer: 'js' });
    try {
      const job = await shardQueue.add('shard', { runId: 'r1', layer: 'not a number' }, { attempts: 3, backoff: { type: 'fixed', delay: 10 } });
      const failed = await finallyFailed(shardEvents, shardQueue, job.id!);
      expect({ attemptsMade: failed.attemptsMade, state: await failed.getState() }).toEqual({ attemptsMade: 1, state: 'failed' });
      expect(failed.failedReason).toMatch(/^shard: /);
    } finally {
      await handle.close();
      await shardEvents.close();
      await shardQueue.close();
      await rm(artifacts, { recursive: true, force: true });
    }
  });
});
