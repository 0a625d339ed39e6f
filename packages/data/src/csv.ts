import type { Matrix } from './matrix.ts';
import { scanCsv } from './csv-scan.ts';

/**
 * Parses numeric CSV (optional header row, comma/tab/semicolon/whitespace delimited) into a
 * float32 matrix. Errors name the file, the 1-based line and the column.
 */
export function parseCsv(text: string | Uint8Array, fileName: string): Matrix {
  const t = scanCsv(text, fileName, 'float32');
  return { rows: t.rows, cols: t.cols, dtype: 'float32', data: t.data as Float32Array };
}
