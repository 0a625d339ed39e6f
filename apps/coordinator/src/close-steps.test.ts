import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { CloseSequence } from './close-steps.ts';

function sink() {
  const logs: { msg: string; step: string; waitingOn?: unknown }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line) as (typeof logs)[number]);
      cb();
    },
  });
  return { logs, log: pino({ level: 'warn' }, stream) };
}

describe('CloseSequence', () => {
  it('runs the steps in order, going on past one that never settles and one that throws, and reports both', async () => {
    const { logs, log } = sink();
    const seq = new CloseSequence(log, 50);
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
    const { logs, log } = sink();
    expect(await new CloseSequence(log, 1_000).run([{ name: 'quick', run: () => new Promise((r) => setTimeout(r, 10)) }])).toEqual([]);
    expect(logs).toEqual([]);
  });
});
