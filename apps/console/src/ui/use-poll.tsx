import { useEffect, useRef, useState } from 'preact/hooks';

/** Loads `fn` now and every `everyMs` while `keepPolling(value)` says so; `reload()` forces a load. */
export function usePoll<T>(fn: () => Promise<T>, everyMs: number, keepPolling: (v: T) => boolean, deps: unknown[]): { value: T | undefined; error: Error | null; reload: () => void } {
  const [value, setValue] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | null>(null);
  const [tick, setTick] = useState(0);
  const alive = useRef(true);
  useEffect(() => {
    alive.current = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = () =>
      fn().then(
        (v) => {
          if (!alive.current) return;
          setValue(v);
          setError(null);
          if (keepPolling(v)) timer = setTimeout(load, everyMs);
        },
        (err: Error) => {
          if (!alive.current) return;
          setError(err);
          timer = setTimeout(load, everyMs * 2);
        },
      );
    void load();
    return () => {
      alive.current = false;
      clearTimeout(timer);
    };
  }, [...deps, tick]);
  return { value, error, reload: () => setTick((t) => t + 1) };
}
