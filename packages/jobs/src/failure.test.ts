import { describe, expect, it } from 'vitest';
import { DataError } from '@cmbn/data';
import { CodeArtifactError } from './code-npy.ts';
import { PayloadError } from './catalog.ts';
import type {
  UnrecoverableJobError} from './failure.ts';
import {
  BadInputError,
  CancelledError,
  classifyError,
  consumesAttempt,
  isRetryable,
  toJobError,
  withInfraRetry,
  type FailureKind,
} from './failure.ts';

const KINDS: FailureKind[] = ['bad-input', 'transient-infra', 'cancelled', 'bug', 'unknown'];

function withProps(message: string, props: Record<string, unknown>, name?: string): Error {
  const e = Object.assign(new Error(message), props);
  if (name) e.name = name;
  return e;
}

describe('failure taxonomy', () => {
  it('retries infrastructure and unknown failures only, and only infrastructure retries are free', () => {
    expect(KINDS.filter(isRetryable)).toEqual(['transient-infra', 'unknown']);
    expect(KINDS.filter((k) => !consumesAttempt(k))).toEqual(['transient-infra']);
    expect(() => isRetryable('nonsense' as FailureKind)).toThrow(/unhandled failure kind/);
  });

  it('classifies the input errors of the packages as bad input', () => {
    expect(classifyError(new DataError('row 3: not a number', 'x.csv', 3))).toBe('bad-input');
    expect(classifyError(new CodeArtifactError('not an NPY file'))).toBe('bad-input');
    expect(classifyError(new PayloadError('shard job payload is invalid'))).toBe('bad-input');
    expect(classifyError(new BadInputError('k exceeds the points'))).toBe('bad-input');
    for (const code of ['ARTIFACT_CORRUPT', 'ARTIFACT_NOT_FOUND', 'INVALID_KEY', 'BAD_PARAMS', 'NOT_FOUND']) {
      expect(classifyError(withProps('x', { code, httpStatus: 500 }))).toBe('bad-input');
    }
    // The registry's CONFLICT (status changed meanwhile) is re-read by a retry.
    expect(classifyError(withProps('run is CANCELLED', { code: 'CONFLICT' }))).toBe('unknown');
  });

  it('classifies database, Redis and S3 outages as transient infrastructure', () => {
    const cases: unknown[] = [
      withProps('connect ECONNREFUSED 127.0.0.1:5432', { code: 'ECONNREFUSED', syscall: 'connect', errno: -111 }),
      new Error('Connection terminated unexpectedly'),
      new Error('timeout expired'),
      withProps('terminating connection due to administrator command', { code: '57P01', severity: 'FATAL' }),
      withProps('the database system is starting up', { code: '57P03' }),
      withProps('x', { code: '08006' }),
      withProps("Can't reach database server at 127.0.0.1:1", { code: 'P1001' }, 'PrismaClientKnownRequestError'),
      withProps('Invalid invocation', { code: 'P2010', meta: { driverAdapterError: { name: 'DriverAdapterError', cause: { kind: 'ConnectionClosed' } } } }),
      withProps('Invalid invocation', { meta: { driverAdapterError: { cause: { kind: 'postgres', code: '57P01' } } } }),
      new Error('Connection is closed.'),
      withProps('Reached the max retries per request limit', {}, 'MaxRetriesPerRequestError'),
      new Error('LOADING Redis is loading the dataset in memory'),
      withProps('socket hang up', { code: 'ECONNRESET' }),
      withProps('We encountered an internal error', { $metadata: { httpStatusCode: 503 } }, 'InternalError'),
      withProps('x', { $metadata: { httpStatusCode: 500 } }, 'S3ServiceException'),
      withProps('timed out', {}, 'TimeoutError'),
      withProps('x', {}, 'NetworkingError'),
      // undici: TypeError('fetch failed') caused by a refused connection
      new TypeError('fetch failed', { cause: new AggregateError([withProps('x', { code: 'ECONNREFUSED' })]) }),
    ];
    for (const e of cases) expect([String((e as Error).message), classifyError(e)]).toEqual([String((e as Error).message), 'transient-infra']);
    // A read the artifact store found damaged on the way (the object verified on a second read): read again.
    expect(classifyError(withProps('a read was damaged on the way', { code: 'ARTIFACT_READ_DAMAGED' }, 'ArtifactReadDamagedError'))).toBe('transient-infra');
    // Our own 500s are not S3's: a corrupt artifact stays bad input.
    expect(classifyError(withProps('artifact is corrupt', { code: 'ARTIFACT_CORRUPT', httpStatus: 500 }))).toBe('bad-input');
    expect(classifyError(withProps('Access Denied', { $metadata: { httpStatusCode: 403 } }, 'AccessDenied'))).toBe('unknown');
  });

  it('classifies cancellation and programming errors', () => {
    expect(classifyError(new CancelledError('run r was cancelled'))).toBe('cancelled');
    expect(classifyError(withProps('aborted', { code: 'ABORT_ERR' }, 'AbortError'))).toBe('cancelled');
    expect(classifyError(withProps('aborted', { code: 'ABORTED' }))).toBe('cancelled');
    expect(classifyError(new TypeError("Cannot read properties of undefined (reading 'x')"))).toBe('bug');
    expect(classifyError(new RangeError('Invalid typed array length: -1'))).toBe('bug');
    expect(classifyError(new Error('worker thread exited with code 1'))).toBe('unknown');
    expect(classifyError('a string')).toBe('unknown');
    expect(classifyError(undefined)).toBe('unknown');
  });

  it('turns hopeless failures into BullMQ UnrecoverableErrors and leaves retryable ones alone', () => {
    const bad = toJobError(new DataError('bad row'), 'shard');
    expect(bad.name).toBe('UnrecoverableError');
    expect(bad.message).toBe('shard: bad row');
    expect(classifyError(bad)).toBe('bad-input');
    const bug = toJobError(new TypeError('x is not a function'));
    expect([bug.name, (bug as UnrecoverableJobError).kind]).toEqual(['UnrecoverableError', 'bug']);
    const infra = withProps('connect ECONNREFUSED', { code: 'ECONNREFUSED' });
    expect(toJobError(infra)).toBe(infra);
    const already = toJobError(bad);
    expect(already).toBe(bad);
  });

  it('retries transient errors within the budget without retrying anything else', async () => {
    let calls = 0;
    const retried: number[] = [];
    const v = await withInfraRetry(
      async () => {
        if (++calls < 4) throw withProps('connect ECONNREFUSED', { code: 'ECONNREFUSED' });
        return 'ok';
      },
      { budgetMs: 5_000, initialDelayMs: 5, onRetry: (_e, attempt) => retried.push(attempt) },
    );
    expect([v, calls, retried]).toEqual(['ok', 4, [1, 2, 3]]);

    calls = 0;
    await expect(withInfraRetry(async () => { calls++; throw new DataError('bad'); }, { budgetMs: 5_000 })).rejects.toThrow('bad');
    expect(calls).toBe(1);

    // An outage longer than the budget: it gives up (the rejection itself shows that it stopped;
    // one that never did would run into the test's timeout), and only after the budget is spent.
    // Load can only make the waits later, so the lower bound cannot flake; the waits it asked for
    // stay within maxDelayMs (+20 % jitter) and together within the budget.
    const waits: number[] = [];
    const t0 = Date.now();
    await expect(
      withInfraRetry(async () => { throw new Error('Connection terminated'); }, { budgetMs: 150, initialDelayMs: 10, maxDelayMs: 20, onRetry: (_e, _a, ms) => waits.push(ms) }),
    ).rejects.toThrow('Connection terminated');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(waits.length).toBeGreaterThanOrEqual(1);
    expect(Math.max(...waits)).toBeLessThanOrEqual(24);
    // (+1 ms per wait: a timer may fire a millisecond early against Date.now(), leaving that much more budget.)
    expect(waits.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(150 + waits.length);
  });
});
