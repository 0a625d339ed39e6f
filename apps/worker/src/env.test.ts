import { describe, expect, it } from 'vitest';
import { readWorkerEnv } from './env.ts';

describe('CMBN_WORKER_JOBS', () => {
  it('defaults to both queues and accepts a subset, spaces and repeats', () => {
    expect(readWorkerEnv({}).CMBN_WORKER_JOBS).toEqual(['shard', 'distill']);
    expect(readWorkerEnv({ CMBN_WORKER_JOBS: 'shard' }).CMBN_WORKER_JOBS).toEqual(['shard']);
    expect(readWorkerEnv({ CMBN_WORKER_JOBS: ' distill , shard,distill ' }).CMBN_WORKER_JOBS).toEqual(['distill', 'shard']);
  });

  it('refuses unknown kinds and an empty list with one line naming the variable', () => {
    expect(() => readWorkerEnv({ CMBN_WORKER_JOBS: 'shard,layer' })).toThrow(/^worker configuration: CMBN_WORKER_JOBS\.1: /);
    expect(() => readWorkerEnv({ CMBN_WORKER_JOBS: ' , ' })).toThrow(/^worker configuration: CMBN_WORKER_JOBS: name at least one of shard, distill$/);
  });
});
