import { describe, expect, it } from 'vitest';
import { sharedExclusive } from './cluster.ts';

/** A promise and its resolver, to hold tasks open. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('sharedExclusive (a delivery never interleaves with a process joining)', () => {
  it('shared tasks run together; an exclusive one waits for them, and later shared ones wait for it', async () => {
    const lock = sharedExclusive();
    const log: string[] = [];
    const a = gate();
    const b = gate();
    const s1 = lock.shared(async () => (log.push('s1 start'), await a.promise, log.push('s1 end')));
    const s2 = lock.shared(async () => (log.push('s2 start'), await b.promise, log.push('s2 end')));
    await tick();
    expect(log).toEqual(['s1 start', 's2 start']);
    const x = lock.exclusive(async () => (log.push('x'), 'delivered'));
    const s3 = lock.shared(async () => log.push('s3'));
    await tick();
    expect(log).toEqual(['s1 start', 's2 start']);
    a.open();
    await s1;
    await tick();
    expect(log).not.toContain('x');
    b.open();
    expect(await x).toBe('delivered');
    await Promise.all([s2, s3]);
    expect(log).toEqual(['s1 start', 's2 start', 's1 end', 's2 end', 'x', 's3']);
  });

  it('exclusive tasks run one at a time in call order, and a failed one does not block the next', async () => {
    const lock = sharedExclusive();
    const log: string[] = [];
    const first = gate();
    const x1 = lock.exclusive(async () => (log.push('x1'), await first.promise, log.push('x1 end')));
    const x2 = lock.exclusive(async () => {
      log.push('x2');
      throw new Error('boom');
    });
    const x3 = lock.exclusive(async () => log.push('x3'));
    await tick();
    expect(log).toEqual(['x1']);
    first.open();
    await x1;
    await expect(x2).rejects.toThrow('boom');
    await x3;
    expect(log).toEqual(['x1', 'x1 end', 'x2', 'x3']);
  });
});
