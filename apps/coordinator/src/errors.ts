/** The API's error family: `code` is stable, `httpStatus` is what the client sees. */
export type AppErrorCode =
  | 'BAD_REQUEST'
  | 'BAD_DATA'
  | 'BAD_PARAMS'
  | 'UNAUTHORIZED'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'MODEL_NOT_READY'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'UNAVAILABLE'
  | 'ARTIFACT_CORRUPT'
  | 'INTERNAL';

const STATUS: Record<AppErrorCode, number> = {
  BAD_REQUEST: 400,
  BAD_DATA: 400,
  BAD_PARAMS: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  CONFLICT: 409,
  MODEL_NOT_READY: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNAVAILABLE: 503,
  ARTIFACT_CORRUPT: 500,
  INTERNAL: 500,
};

export class AppError extends Error {
  readonly httpStatus: number;

  constructor(
    readonly code: AppErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'AppError';
    this.httpStatus = STATUS[code];
  }
}

/** Maps any thrown value to `{ status, body }`: the errors of the packages carry their own codes. */
export function toErrorResponse(err: unknown): { status: number; body: { error: { code: string; message: string; details?: unknown } } } {
  const e = err as { name?: string; code?: unknown; httpStatus?: unknown; status?: unknown; type?: unknown; message?: string; details?: unknown };
  const message = e?.message ?? String(err);
  if (err instanceof AppError) return { status: err.httpStatus, body: { error: { code: err.code, message, ...(err.details ? { details: err.details } : {}) } } };
  if (e?.name === 'DataError') return { status: 400, body: { error: { code: 'BAD_DATA', message } } };
  if (e?.name === 'ZodError') return { status: 400, body: { error: { code: 'BAD_REQUEST', message } } };
  if (e?.code === 'BAD_PARAMS') return { status: 400, body: { error: { code: 'BAD_PARAMS', message } } };
  // RegistryError / ArtifactError: a stable code and an HTTP status of their own.
  if (typeof e?.code === 'string' && typeof e.httpStatus === 'number') {
    return { status: e.httpStatus, body: { error: { code: e.code, message } } };
  }
  // body-parser errors (malformed JSON, too large).
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    const code = e.type === 'entity.too.large' ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST';
    return { status: e.status, body: { error: { code, message } } };
  }
  return { status: 500, body: { error: { code: 'INTERNAL', message } } };
}
