import { DataError } from './data-error.ts';
import type { Matrix } from './matrix.ts';

/** Throws a DataError naming the file, the 1-based row and column of the first NaN or ±Infinity. */
export function validateFinite(m: Matrix, fileName: string): void {
  if (m.dtype === 'uint8') return; // every byte is finite
  const { data, cols } = m;
  const n = m.rows * cols;
  for (let i = 0; i < n; i++) {
    const v = data[i]!;
    // v - v is 0 for finite values and NaN for NaN/±Inf: one comparison in the hot loop.
    if (v - v !== 0) throw nonFiniteError(fileName, Math.floor(i / cols) + 1, (i % cols) + 1, v);
  }
}

export function nonFiniteError(fileName: string, row: number, column: number, value: number, where?: string): DataError {
  const at = where ?? `row ${row}`;
  return new DataError(`${fileName}: ${at}, column ${column} is ${value}; data must be finite`, fileName, row, column);
}
