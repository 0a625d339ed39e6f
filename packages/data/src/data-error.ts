/**
 * The one error type of `@cmbn/data`. Its message is a single readable line that already names
 * the file, the row (1-based data row) and the problem, so callers (CLI, API) print it as is.
 */
export class DataError extends Error {
  readonly code = 'BAD_DATA' as const;
  readonly file: string | undefined;
  /** 1-based data row (not counting a CSV header), when the problem is in one row. */
  readonly row: number | undefined;
  /** 1-based column, when the problem is in one cell. */
  readonly column: number | undefined;

  constructor(message: string, file?: string, row?: number, column?: number) {
    super(message);
    this.name = 'DataError';
    this.file = file;
    this.row = row;
    this.column = column;
  }
}
