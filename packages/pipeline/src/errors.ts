export type PipelineErrorCode = 'ARCHIVE_INVALID' | 'ARTIFACT_MISMATCH' | 'OUT_DIR_NOT_EMPTY' | 'NOT_A_STUDENT' | 'VERSION_FAILED' | 'INVALID';

const HTTP_STATUS: Record<PipelineErrorCode, number> = {
  ARCHIVE_INVALID: 422,
  ARTIFACT_MISMATCH: 500,
  OUT_DIR_NOT_EMPTY: 409,
  NOT_A_STUDENT: 422,
  VERSION_FAILED: 409,
  INVALID: 400,
};

/** Errors of the pipeline glue; `code` is stable and maps to an HTTP status, the message is what the CLI prints. */
export class PipelineError extends Error {
  readonly httpStatus: number;

  constructor(
    readonly code: PipelineErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'PipelineError';
    this.httpStatus = HTTP_STATUS[code];
  }
}
