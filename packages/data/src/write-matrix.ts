import { writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { DataError } from './data-error.ts';
import { encodeNpy } from './encode-npy.ts';
import { checkShape, type WritableMatrix } from './matrix.ts';

/** Writes `.npy` (exact, any dtype) or `.csv` (no header, values that read back to the same float32/float64). */
export async function writeMatrix(path: string, m: WritableMatrix): Promise<void> {
  const ext = extname(path).toLowerCase();
  checkShape(m, path);
  let bytes: Uint8Array | string;
  if (ext === '.npy') bytes = encodeNpy(m);
  else if (ext === '.csv') bytes = encodeCsv(m, path);
  else throw new DataError(`${path}: cannot write '${ext || '(no extension)'}' files; use .npy or .csv`, path);
  try {
    await writeFile(path, bytes);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'its directory does not exist' : err.code === 'EACCES' ? 'permission denied' : err.message;
    throw new DataError(`${path}: cannot write file: ${why}`, path);
  }
}

export function encodeCsv(m: WritableMatrix, fileName: string): string {
  checkShape(m, fileName);
  const { rows, cols, data } = m;
  const fmt = m.dtype === 'float32' ? shortestFloat32 : String;
  const lines: string[] = new Array<string>(rows);
  const cells: string[] = new Array<string>(cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) cells[c] = fmt(data[r * cols + c]!);
    lines[r] = cells.join(',');
  }
  return lines.join('\n') + '\n';
}

/** The shortest decimal that parses back to the same float32 (String() would print the float64 expansion, e.g. 0.10000000149011612). */
function shortestFloat32(v: number): string {
  if (Object.is(v, -0)) return '-0';
  if (Number.isInteger(v) && Math.abs(v) < 1e21) return String(v);
  for (let p = 1; p < 9; p++) {
    const s = v.toPrecision(p);
    if (Math.fround(Number(s)) === v) return String(Number(s));
  }
  return String(Number(v.toPrecision(9)));
}
