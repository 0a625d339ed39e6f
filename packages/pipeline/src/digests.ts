/** Identities and sizes the pipeline records as lineage and metrics. */
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeNpy, type Matrix } from '@cmbn/data';

/**
 * The dataset's identity, recorded as a student's lineage: sha256 of the matrix's canonical .npy
 * encoding (encodeNpy: NPY v1.0, C order, little-endian, numpy's 64-byte header padding) — of the
 * parsed matrix, whatever file it was read from. It is one value wherever a student is trained:
 * the CLI computes it from the matrix it trains on, a worker from the matrix it parsed out of the
 * uploaded artifact; and since `train --remote` uploads exactly encodeNpy(matrix), it is also the
 * uploaded dataset's content address there.
 */
export function datasetSha256(x: Matrix): string {
  return createHash('sha256').update(encodeNpy(x)).digest('hex');
}

/** Total bytes of the regular files directly in dir (a student directory is flat). */
export async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) {
    const st = await stat(join(dir, name));
    if (st.isFile()) total += st.size;
  }
  return total;
}
