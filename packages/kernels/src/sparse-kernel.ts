/**
 * Which implementation runs the sparse layers' grouped kernel (nearest-centres-sparse-group.ts):
 * the C++ one in the OpenBLAS addon (native/sparse-group.cc, built by `npm run build:blas`) or the
 * JavaScript one. Both give the same ids, so the choice only costs or saves time.
 *
 * CMBN_SPARSE_KERNEL: unset or empty = native when the addon is built, else js, silently (users may
 * not have built it); 'native' asks for it (warns once and runs js when it is not built or fails to
 * load); 'js' forces the JavaScript loop.
 */
import { existsSync } from 'node:fs';
import { blasAddonPath, loadBlasAddon, type BlasAddon } from './blas-backend.ts';

export type SparseKernelAddon = Pick<BlasAddon, 'sparseGroupAssign' | 'sparseGroupBuild'>;

const cache = new Map<string, SparseKernelAddon | null>();

/** The addon's sparse kernel if this process should use it, else null (run the JS loop). */
export function sparseKernelAddon(): SparseKernelAddon | null {
  const want = process.env['CMBN_SPARSE_KERNEL'] || '';
  if (want !== '' && want !== 'native' && want !== 'js') throw new RangeError(`CMBN_SPARSE_KERNEL must be 'native' or 'js', got '${want}'`);
  if (want === 'js') return null;
  const p = blasAddonPath();
  const key = `${want}\0${p}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  let addon: SparseKernelAddon | null = null;
  if (!existsSync(p)) {
    if (want === 'native') process.emitWarning(`CMBN_SPARSE_KERNEL=native but the addon is not built (${p}; npm run build:blas): using the JS sparse kernel`, 'CmbnKernelsWarning');
  } else {
    try {
      const a = loadBlasAddon(p);
      // An addon built before the sparse kernel existed has the dense functions only.
      if (typeof a.sparseGroupAssign !== 'function' || typeof a.sparseGroupBuild !== 'function') throw new Error(`${p} predates the sparse kernel: rerun npm run build:blas`);
      addon = a;
    } catch (err) {
      process.emitWarning(`native sparse kernel unavailable, using the JS one: ${(err as Error).message.split('\n')[0]}`, 'CmbnKernelsWarning');
    }
  }
  cache.set(key, addon);
  return addon;
}
