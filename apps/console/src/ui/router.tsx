import { useEffect, useState } from 'preact/hooks';

/** `#/runs/abc` → ['runs', 'abc']. Hash routing: the coordinator serves one index.html at `/`. */
export function useRoute(): string[] {
  const read = () => (location.hash.replace(/^#\/?/, '') || 'runs').split('/').map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

export const href = (...parts: string[]) => '#/' + parts.map(encodeURIComponent).join('/');
