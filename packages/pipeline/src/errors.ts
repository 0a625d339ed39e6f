export type PipelineErrorCode = 'ARCHIVE_INVALID' | 'ARTIFACT_MISMATCH' | 'OUT_DIR_NOT_EMPTY' | 'NOT_A_STUDENT' | 'VERSION_FAILED' | 'INVALID';

/**
 * Errors of the pipeline glue: `code` is stable, the message is what the CLI prints. Like every
 * package's errors it knows nothing of HTTP: the coordinator's API edge maps the code to a status.
 */
export class PipelineError extends Error {
  constructor(
    readonly code: PipelineErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'PipelineError';
  }
}
