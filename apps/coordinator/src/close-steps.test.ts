import { describe, expect, it } from 'vitest';
import { CloseSequence } from './close-steps.ts';
import { captureLogs } from './test-log.ts';

describe('CloseSequence', () => {
  it('runs the steps in order, going on past one that never settles and one that throws, and reports both', async () => {
    const { logs, logger } = captureLogs();
    const seq = new CloseSequence(logger, 50);
    const ran: string[] = [];
    let seen: ReturnType<CloseSequence['current']>;
    const problems = await seq.run([
      { name: 'a', run: async () => void ran.push('a') },
      {
        name: 'hangs',
        run: () => {
          ran.push('hangs');
          seen = seq.current();
          return new Promise(() => {});
        },
        waitingOn: () => ({ lockedRuns: ['r1'] }),
      },
      {
        name: 'throws',
        run: () => {
          ran.push('throws');
          throw new Error('connection is closed'); // before returning a promise
        },
      },
      { name: 'b', run: async () => void ran.push('b') },
    ]);
    expect(ran).toEqual(['a', 'hangs', 'throws', 'b']);
    expect(seen).toEqual({ step: 'hangs', waitingOn: { lockedRuns: ['r1'] } });
    expect(problems).toEqual([
      { step: 'hangs', outcome: 'overran', detail: { afterMs: 50, waitingOn: { lockedRuns: ['r1'] } } },
      { step: 'throws', outcome: 'failed', detail: 'connection is closed' },
    ]);
    expect(logs.map((l) => [l.step, l.msg])).toEqual([
      ['hangs', 'close: hangs did not finish in 50 ms; going on without it'],
      ['throws', 'close: throws failed; going on'],
    ]);
    expect(seq.current()).toBeUndefined();
  });

  it('reports nothing when every step ends in time', async () => {
    const { logs, logger } = captureLogs();
    expect(await new CloseSequence(logger, 1_000).run([{ name: 'quick', run: () => new Promise((r) => setTimeout(r, 10)) }])).toEqual([]);
    expect(logs).toEqual([]);
  });
});
