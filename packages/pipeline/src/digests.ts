/** Identities and sizes the pipeline records as lineage and metrics. */
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Matrix } from '@cmbn/data';

/** sha256 of `cmbn-matrix:<dtype>:<rows>x<cols>\n` followed by the row-major bytes: the dataset's identity. */
export function datasetSha256(x: Matrix): string {
  const h = createHash('sha256').update(`cmbn-matrix:${x.dtype}:${x.rows}x${x.cols}\n`);
  h.update(new Uint8Array(x.data.buffer, x.data.byteOffset, x.rows * x.cols * x.data.BYTES_PER_ELEMENT));
  return h.digest('hex');
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
