import { DataError } from './data-error.ts';

/**
 * Shared CSV scanner for data (`parseCsv`) and labels (`parseLabels`).
 * Numeric cells only. The delimiter is taken from the first non-blank line: ',' if it has one,
 * else tab, else ';', else runs of whitespace (np.savetxt's default). The first row is a header
 * when none of its cells is a number. Blank lines at the end are ignored; a blank line between
 * data rows is an error (it usually means a truncated or concatenated file).
 */
export interface CsvTable {
  rows: number;
  cols: number;
  data: Float32Array | Float64Array;
  /** 1-based line number of data row 1; data row r is on line firstDataLine + r - 1. */
  firstDataLine: number;
  header: string[] | undefined;
}

// Decimal numbers as numpy/pandas/R write them; hex, '', '1_000' etc. are rejected (Number() would accept some).
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NON_FINITE = /^[+-]?(?:nan|inf|infinity)$/i;

function cellValue(cell: string): number | undefined {
  if (NUMBER.test(cell)) return Number(cell);
  if (NON_FINITE.test(cell)) {
    const lower = cell.toLowerCase();
    if (lower.endsWith('nan')) return NaN;
    return lower.startsWith('-') ? -Infinity : Infinity;
  }
  return undefined;
}

export function decodeText(text: string | Uint8Array): string {
  const s = typeof text === 'string' ? text : new TextDecoder('utf-8').decode(text);
  return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s; // strip a BOM (Excel writes one)
}

export function scanCsv(input: string | Uint8Array, fileName: string, store: 'float32' | 'float64'): CsvTable {
  const text = decodeText(input);
  const lines = text.split('\n');
  // Ignore trailing blank lines (a final newline gives one empty element).
  let end = lines.length;
  while (end > 0 && lines[end - 1]!.trim() === '') end--;
  let start = 0;
  while (start < end && lines[start]!.trim() === '') start++;
  if (start === end) throw new DataError(`${fileName}: empty dataset (no rows)`, fileName);

  const first = lines[start]!;
  const delimiter = first.includes(',') ? ',' : first.includes('\t') ? '\t' : first.includes(';') ? ';' : null;
  const split = (line: string): string[] => {
    const t = line.trim(); // also drops '\r' of CRLF files
    return delimiter === null ? t.split(/\s+/) : t.split(delimiter).map((c) => c.trim());
  };

  const firstCells = split(first);
  const cols = firstCells.length;
  const numeric = firstCells.map((c) => cellValue(c) !== undefined);
  let header: string[] | undefined;
  if (numeric.every((ok) => !ok)) {
    header = firstCells;
    start++;
  }
  const firstDataLine = start + 1;
  const capacity = (end - start) * cols;
  if (capacity === 0) throw new DataError(`${fileName}: empty dataset (header only, no data rows)`, fileName);
  const data = store === 'float32' ? new Float32Array(capacity) : new Float64Array(capacity);

  let k = 0;
  for (let li = start; li < end; li++) {
    const lineNo = li + 1;
    const row = li - start + 1;
    const line = lines[li]!;
    if (line.trim() === '') {
      throw new DataError(`${fileName}: line ${lineNo} is blank, expected ${cols} columns`, fileName, row);
    }
    const cells = split(line);
    if (cells.length !== cols) {
      throw new DataError(`${fileName}: line ${lineNo} has ${cells.length} columns, expected ${cols}`, fileName, row);
    }
    for (let c = 0; c < cols; c++) {
      const cell = cells[c]!;
      const v = cellValue(cell);
      if (v === undefined) {
        const shown = cell === '' ? 'empty' : `'${cell.length > 40 ? `${cell.slice(0, 40)}…` : cell}' is not a number`;
        throw new DataError(`${fileName}: line ${lineNo}, column ${c + 1}: ${shown}`, fileName, row, c + 1);
      }
      if (v - v !== 0) {
        throw new DataError(`${fileName}: line ${lineNo} (row ${row}), column ${c + 1} is ${v}; data must be finite`, fileName, row, c + 1);
      }
      if (store === 'float32') {
        const f = Math.fround(v);
        if (f - f !== 0) {
          throw new DataError(`${fileName}: line ${lineNo} (row ${row}), column ${c + 1} value ${cell} overflows float32`, fileName, row, c + 1);
        }
        data[k++] = f;
      } else {
        data[k++] = v;
      }
    }
  }
  return { rows: end - start, cols, data, firstDataLine, header };
}
