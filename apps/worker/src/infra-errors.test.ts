/**
 * The failure taxonomy (@cmbn/jobs classifyError) on real errors of the real clients, produced
 * cheaply against a closed port: what a worker or the coordinator sees while a service is down.
 */
import { createServer, type AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ArtifactNotFoundError } from '@cmbn/artifacts';
import { classifyError, toJobError } from '@cmbn/jobs';
import { closeDb, getDb, getRun } from '@cmbn/registry';

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

afterAll(() => closeDb());

describe('real infrastructure errors', () => {
  it('Prisma (pg driver adapter) against a closed port is transient infra', async () => {
    const port = await closedPort();
    getDb(`postgresql://postgres@127.0.0.1:${port}/none`);
    const err = await caught(getRun('r1'));
    expect((err as { code?: string }).code).toBe('P1001');
    expect(classifyError(err)).toBe('transient-infra');
    expect(toJobError(err)).toBe(err);
  });

  it('pg against a closed port is transient infra', async () => {
    const c = new pg.Client({ connectionString: `postgresql://postgres@127.0.0.1:${await closedPort()}/none` });
    const err = await caught(c.connect());
    expect(classifyError(err)).toBe('transient-infra');
  });

  it('ioredis commands against a closed port are transient infra', async () => {
    const port = await closedPort();
    const r = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => 20 });
    r.on('error', () => {});
    const err = await caught(r.get('k'));
    expect((err as Error).name).toBe('MaxRetriesPerRequestError');
    expect(classifyError(err)).toBe('transient-infra');
    r.disconnect();
    // A client that gave up reconnecting (what BullMQ's connections see between retries).
    const gaveUp = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null });
    gaveUp.on('error', () => {});
    expect(classifyError(await caught(gaveUp.connect()))).toBe('transient-infra');
    const closed = await caught(gaveUp.get('k'));
    expect((closed as Error).message).toMatch(/Connection is closed/);
    expect(classifyError(closed)).toBe('transient-infra');
  }, 10_000);

  it('fetch (undici) against a closed port is transient infra, not a bug', async () => {
    const err = await caught(fetch(`http://127.0.0.1:${await closedPort()}/`));
    expect((err as Error).name).toBe('TypeError');
    expect(classifyError(err)).toBe('transient-infra');
  });

  it('a missing artifact is bad input and fails the job at once', () => {
    const err = new ArtifactNotFoundError('a'.repeat(64));
    expect(classifyError(err)).toBe('bad-input');
    expect(toJobError(err, 'shard').name).toBe('UnrecoverableError');
  });
});
