/**
 * The scoring server's errors. `cmbn serve` is its own HTTP edge (it is not the coordinator), so
 * this file holds its one code → status table; everything below the edge throws a `ServeError`
 * (or a package error with a `code`, e.g. @cmbn/data's BAD_DATA) and knows nothing of HTTP.
 */
export type ServeErrorCode =
  | 'BAD_REQUEST'
  | 'BAD_JSON'
  | 'BAD_DATA'
  | 'WRONG_WIDTH'
  | 'BAD_DTYPE'
  | 'EMPTY_BATCH'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'NO_PROBABILITIES'
  | 'BAD_TARGET'
  | 'ARTIFACT_MISMATCH'
  | 'UNAVAILABLE'
  | 'INTERNAL';

export class ServeError extends Error {
  constructor(
    readonly code: ServeErrorCode,
    message: string,
    /** 1-based row and column of the offending value, when there is one. */
    readonly details?: { row?: number; column?: number } & Record<string, unknown>,
  ) {
    super(message);
    this.name = 'ServeError';
  }
}

const STATUS: Record<string, number> = {
  BAD_REQUEST: 400,
  BAD_JSON: 400,
  BAD_DATA: 400,
  WRONG_WIDTH: 400,
  BAD_DTYPE: 400,
  EMPTY_BATCH: 400,
  NO_PROBABILITIES: 400,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNAVAILABLE: 503,
};

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/**
 * Status and body for any thrown value. Our codes and @cmbn/data's BAD_DATA map through the table;
 * anything else is a 500 whose
 * message is fixed, so no internal text reaches the client (the caller logs the real error).
 */
export function toErrorResponse(err: unknown): { status: number; body: ErrorBody } {
  const e = err as { code?: unknown; message?: unknown; details?: unknown; row?: unknown; column?: unknown };
  if (typeof e?.code === 'string' && STATUS[e.code] !== undefined) {
    const details = e.details ?? (typeof e.row === 'number' ? { row: e.row, ...(typeof e.column === 'number' ? { column: e.column } : {}) } : undefined);
    return { status: STATUS[e.code]!, body: { error: { code: e.code, message: String(e.message), ...(details !== undefined ? { details } : {}) } } };
  }
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'internal error (logged by the server)' } } };
}
