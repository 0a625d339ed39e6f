/** The error `withTimeout` rejects with when its bound is reached first. */
export class TimeoutError extends Error {}

/**
 * `p`, or a TimeoutError after `ms`. The work itself is not cancelled; it ends or fails on its own.
 * (The health probes and the close's steps are bounded with it.)
 */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
