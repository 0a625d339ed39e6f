import { describe, expect, it } from 'vitest';
import { parseCsv } from './csv.ts';
import { dataError } from './test-helpers.ts';

describe('parseCsv', () => {
  it('parses numeric CSV as float32 with optional whitespace and a trailing blank line', () => {
    const m = parseCsv('1, 2.5,-3\n4e2 ,.5, +6\n\n', 'a.csv');
    expect(m).toMatchObject({ rows: 2, cols: 3, dtype: 'float32' });
    expect(Array.from(m.data)).toEqual([1, 2.5, -3, 400, 0.5, 6]);
  });

  it('detects a header row when no cell of the first row is a number', () => {
    const m = parseCsv('x,y\n1,2\n3,4\n', 'h.csv');
    expect([m.rows, m.cols]).toEqual([2, 2]);
    expect(Array.from(m.data)).toEqual([1, 2, 3, 4]);
    // pandas' index column has an empty header name
    expect(parseCsv(',a\n0,7\n', 'p.csv').rows).toBe(1);
    // a numeric first row is data, not a header
    expect(parseCsv('0,1\n2,3', 'n.csv').rows).toBe(2);
  });

  it('accepts bytes, CRLF, a BOM, and tab / semicolon / space delimiters', () => {
    const bytes = new TextEncoder().encode('\uFEFFa,b\r\n1,2\r\n3,4\r\n');
    expect(Array.from(parseCsv(bytes, 'w.csv').data)).toEqual([1, 2, 3, 4]);
    expect(Array.from(parseCsv('1\t2\n3\t4\n', 't.tsv').data)).toEqual([1, 2, 3, 4]);
    expect(Array.from(parseCsv('1;2\n3;4\n', 's.csv').data)).toEqual([1, 2, 3, 4]);
    expect(Array.from(parseCsv('1.0e+00 2.0e+00\n3.0e+00   4.0e+00\n', 'savetxt.txt').data)).toEqual([1, 2, 3, 4]);
  });

  it('names file, line and column counts of a ragged row', () => {
    const text = 'a,b,c,d\n' + '1,2,3,4\n'.repeat(5) + '1,2,3\n';
    const e = dataError(() => parseCsv(text, 'data.csv'));
    expect(e.message).toBe('data.csv: line 7 has 3 columns, expected 4');
    expect([e.file, e.row]).toEqual(['data.csv', 6]);
  });

  it('names line and column of a non-numeric cell', () => {
    const e = dataError(() => parseCsv('1,2\n3,abc\n', 'd.csv'));
    expect(e.message).toBe("d.csv: line 2, column 2: 'abc' is not a number");
    expect([e.row, e.column]).toEqual([2, 2]);
    expect(dataError(() => parseCsv('1,2\n3,\n', 'd.csv')).message).toBe('d.csv: line 2, column 2: empty');
    // a partly numeric first row is not a header: its bad cell is reported
    expect(dataError(() => parseCsv('1,x\n3,4\n', 'd.csv')).message).toBe("d.csv: line 1, column 2: 'x' is not a number");
    // hex is not accepted even though Number() would
    expect(dataError(() => parseCsv('1\n0x10\n', 'd.csv')).message).toMatch(/line 2, column 1/);
  });

  it('names file, line, data row and column of NaN / Inf / float32 overflow', () => {
    const e = dataError(() => parseCsv('a,b\n1,2\n3,NaN\n', 'n.csv'));
    expect(e.message).toBe('n.csv: line 3 (row 2), column 2 is NaN; data must be finite');
    expect([e.row, e.column]).toEqual([2, 2]);
    expect(dataError(() => parseCsv('-inf,1\n', 'i.csv')).message).toBe('i.csv: line 1 (row 1), column 1 is -Infinity; data must be finite');
    expect(dataError(() => parseCsv('1\n1e39\n', 'o.csv')).message).toBe('o.csv: line 2 (row 2), column 1 value 1e39 overflows float32');
  });

  it('rejects an empty file, a header-only file and a blank line between rows', () => {
    expect(dataError(() => parseCsv('', 'e.csv')).message).toBe('e.csv: empty dataset (no rows)');
    expect(dataError(() => parseCsv('\n \n', 'e.csv')).message).toBe('e.csv: empty dataset (no rows)');
    expect(dataError(() => parseCsv('a,b\n', 'h.csv')).message).toBe('h.csv: empty dataset (header only, no data rows)');
    expect(dataError(() => parseCsv('1,2\n\n3,4\n', 'b.csv')).message).toBe('b.csv: line 2 is blank, expected 2 columns');
  });
});
