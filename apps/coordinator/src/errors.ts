import { randomBytes } from 'node:crypto';
// Type only (erased): the coordinator does not load @cmbn/pipeline; its errors are known by name and code.
import type { PipelineErrorCode } from '@cmbn/pipeline';

/** The coordinator's own error codes. The HTTP status of every code lives in `toErrorResponse`'s table. */
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
  | 'RATE_LIMITED'
  | 'UNAVAILABLE'
  | 'ARTIFACT_CORRUPT'
  | 'INTERNAL';

/** An error the coordinator raises on purpose: a stable code and a message written for the client. */
export class AppError extends Error {
  constructor(
    readonly code: AppErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

/**
 * The one code → HTTP status table of the API: the coordinator's codes, @cmbn/registry's
 * (NOT_FOUND, CONFLICT, IMMUTABLE, ALIAS_IN_USE, INVALID, CANCELLED), @cmbn/artifacts' (ARTIFACT_*,
 * INVALID_KEY, NOT_IMPLEMENTED, STORE_MISCONFIGURED) and @cmbn/data's BAD_DATA; @cmbn/pipeline's
 * codes are pipelineStatus'. Package errors are mapped by their `code` only: the packages know
 * nothing of HTTP (none carries a status).
 */
const STATUS: Record<string, number> = {
  BAD_REQUEST: 400,
  BAD_DATA: 400,
  BAD_PARAMS: 400,
  INVALID: 400,
  INVALID_KEY: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  ARTIFACT_NOT_FOUND: 404,
  CONFLICT: 409,
  MODEL_NOT_READY: 409,
  IMMUTABLE: 409,
  ALIAS_IN_USE: 409,
  CANCELLED: 409,
  PAYLOAD_TOO_LARGE: 413,
  ARTIFACT_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  ARTIFACT_CORRUPT: 500,
  NOT_IMPLEMENTED: 501,
  UNAVAILABLE: 503,
  STORE_MISCONFIGURED: 503,
  ARTIFACT_READ_DAMAGED: 503,
};

/**
 * The HTTP status of each @cmbn/pipeline error code (a route that reads or publishes student
 * archives may meet them). A switch over the code union, so a code added to the pipeline without a
 * status here is a compile error (the `never` below).
 */
export function pipelineStatus(code: PipelineErrorCode): number {
  switch (code) {
    case 'INVALID':
      return 400;
    case 'ARCHIVE_INVALID':
    case 'NOT_A_STUDENT':
      return 422;
    case 'OUT_DIR_NOT_EMPTY':
    case 'VERSION_FAILED':
      return 409;
    case 'ARTIFACT_MISMATCH':
      return 500;
    default: {
      // Unreachable for the typed union; a code from another build of the pipeline is a server fault.
      const _exhaustive: never = code;
      return 500;
    }
  }
}

/**
 * What a client reads for a 5xx that the coordinator did not raise itself (a package's message
 * may name paths, URLs or SQL): a fixed sentence per code; the details go to the log under errorId.
 */
const PUBLIC_5XX: Record<string, string> = {
  INTERNAL: 'internal error',
  ARTIFACT_CORRUPT: 'a stored artifact is corrupt',
  ARTIFACT_MISMATCH: 'a stored artifact does not match its record',
  NOT_IMPLEMENTED: 'the artifact store backend is not implemented in this build',
  UNAVAILABLE: 'a backing service is unavailable',
  STORE_MISCONFIGURED: 'the artifact store is misconfigured',
  ARTIFACT_READ_DAMAGED: 'a read of a stored artifact was damaged on the way; retry',
};

/**
 * Postgres SQLSTATEs (and Prisma codes) that mean the request, not the server, was at fault: they
 * reach this point only when edge validation missed a case. (The alias-move / version-delete race
 * is the registry's own CONFLICT now; 23503 stays here as the backstop for any other FK race.)
 */
const DB_CODES: Record<string, { status: number; code: string; message: string }> = {
  '23503': { status: 409, code: 'CONFLICT', message: 'a concurrent change conflicts with this request; read the current state and retry' },
  '23505': { status: 409, code: 'CONFLICT', message: 'a concurrent change conflicts with this request; read the current state and retry' },
  P2002: { status: 409, code: 'CONFLICT', message: 'a concurrent change conflicts with this request; read the current state and retry' },
  P2003: { status: 409, code: 'CONFLICT', message: 'a concurrent change conflicts with this request; read the current state and retry' },
  P2025: { status: 404, code: 'NOT_FOUND', message: 'not found' },
  P2020: { status: 400, code: 'BAD_REQUEST', message: 'a value is out of range' },
  '22003': { status: 400, code: 'BAD_REQUEST', message: 'a value is out of range' },
  '22021': { status: 400, code: 'BAD_REQUEST', message: 'a string holds a byte sequence that cannot be stored' },
  '22P05': { status: 400, code: 'BAD_REQUEST', message: 'a string holds a character that cannot be stored' },
};

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown; errorId?: string };
}

/** A random id that ties a 5xx answer to its log line. */
export function newErrorId(): string {
  return randomBytes(8).toString('hex');
}

function dbCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; meta?: { driverAdapterError?: { cause?: { originalCode?: unknown } } }; cause?: { originalCode?: unknown } } | null;
  const sqlState = e?.meta?.driverAdapterError?.cause?.originalCode ?? e?.cause?.originalCode;
  if (typeof sqlState === 'string' && sqlState in DB_CODES) return sqlState;
  if (typeof e?.code === 'string' && /^P\d{4}$/.test(e.code) && e.code in DB_CODES) return e.code;
  return undefined;
}

/** Zod's issues as one line: `path: message; …` (no input values echoed beyond the path). */
function zodMessage(err: { issues?: { path?: PropertyKey[]; message?: string }[] }): string {
  const issues = err.issues ?? [];
  if (issues.length === 0) return 'invalid request';
  return issues.map((i) => `${(i.path ?? []).map(String).join('.') || '(root)'}: ${i.message ?? 'invalid'}`).join('; ');
}

/**
 * Maps any thrown value to `{ status, body }`. The only place an error becomes an HTTP status.
 * Every status ≥ 500 gets an `errorId`; the caller logs the full error under it. A 5xx whose
 * error the coordinator did not raise itself never carries the error's own text.
 */
export function toErrorResponse(err: unknown): { status: number; body: ErrorBody; errorId?: string } {
  const e = err as { name?: unknown; code?: unknown; status?: unknown; type?: unknown; message?: unknown; details?: unknown } | null | undefined;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const build = (status: number, code: string, msg: string, details?: unknown) => {
    if (status < 500) return { status, body: { error: { code, message: msg, ...(details !== undefined ? { details } : {}) } } };
    const errorId = newErrorId();
    return { status, errorId, body: { error: { code, message: msg, errorId } } };
  };

  if (err instanceof AppError) {
    const status = STATUS[err.code] ?? 500;
    // INTERNAL is for "should not happen": whatever its message says stays in the log.
    return build(status, err.code, err.code === 'INTERNAL' ? 'internal error' : message, err.details);
  }
  if (e?.name === 'ZodError') return build(400, 'BAD_REQUEST', zodMessage(err as { issues?: [] }));
  if (e?.name === 'DataError') return build(400, 'BAD_DATA', message);
  if (e?.name === 'PipelineError' && typeof e.code === 'string') {
    const status = pipelineStatus(e.code as PipelineErrorCode);
    return build(status, e.code, status >= 500 ? (PUBLIC_5XX[e.code] ?? 'internal error') : message);
  }
  const db = dbCode(err);
  if (db) {
    const m = DB_CODES[db]!;
    return build(m.status, m.code, m.message);
  }
  // RegistryError, ArtifactError, BAD_PARAMS (@cmbn/mbn): a code of the table; the code decides.
  if (typeof e?.code === 'string' && e.code in STATUS) {
    const status = STATUS[e.code]!;
    return build(status, e.code, status >= 500 ? (PUBLIC_5XX[e.code] ?? 'internal error') : message);
  }
  // body-parser / http-errors (malformed JSON, too large) and the router (a path segment that is
  // not valid percent-encoding): a 4xx `status` of theirs; their text only when they mark it safe.
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    const code = e.type === 'entity.too.large' ? 'PAYLOAD_TOO_LARGE' : e.status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : 'BAD_REQUEST';
    const exposed = (err as { expose?: unknown }).expose === true;
    const msg = e.type === 'entity.parse.failed' ? 'malformed JSON body' : exposed ? message : 'bad request';
    return build(e.status, code, msg);
  }
  return build(500, 'INTERNAL', 'internal error');
}
