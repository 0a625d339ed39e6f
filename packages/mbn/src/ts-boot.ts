import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Node 20 does not hand tsx's loader on to worker threads (`--import tsx` in execArgv fails with
 * ERR_UNKNOWN_FILE_EXTENSION), so each thread boots from a small eval stub through tsx's ESM API,
 * whatever runner (tsx, vitest) started this process. `entry` is a file URL.
 */
export function tsBootScript(entry: string): string {
  const require = createRequire(import.meta.url);
  const tsxApi = pathToFileURL(join(dirname(require.resolve('tsx/package.json')), 'dist/esm/api/index.mjs')).href;
  return `import(${JSON.stringify(tsxApi)}).then((m) => m.tsImport(${JSON.stringify(entry)}, ${JSON.stringify(import.meta.url)}))`;
}
