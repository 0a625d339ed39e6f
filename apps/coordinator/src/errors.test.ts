/** @cmbn/pipeline's errors get their HTTP status at the API edge, from their code only. */
import { describe, expect, it } from 'vitest';
import { PipelineError, type PipelineErrorCode } from '@cmbn/pipeline';
import { ArtifactError, ArtifactReadDamagedError, type ArtifactErrorCode } from '@cmbn/artifacts';
import { pipelineStatus, toErrorResponse } from './errors.ts';

// Typed total over the code union: a code added to the pipeline without a row here fails to compile.
const EXPECTED = {
  INVALID: 400,
  ARCHIVE_INVALID: 422,
  NOT_A_STUDENT: 422,
  OUT_DIR_NOT_EMPTY: 409,
  VERSION_FAILED: 409,
  ARTIFACT_MISMATCH: 500,
} as const satisfies Record<PipelineErrorCode, number>;

describe('pipeline errors at the API edge', () => {
  it('carry no HTTP status of their own', () => {
    const e = new PipelineError('ARCHIVE_INVALID', 'archive truncated in model.json');
    expect('httpStatus' in e).toBe(false);
    expect(Object.keys(e)).not.toContain('httpStatus');
  });

  it('map every code to its status, with the message for a 4xx', () => {
    for (const [code, status] of Object.entries(EXPECTED) as [PipelineErrorCode, number][]) {
      expect(pipelineStatus(code), code).toBe(status);
      const r = toErrorResponse(new PipelineError(code, `the ${code} case`));
      expect(r.status, code).toBe(status);
      expect(r.body.error.code).toBe(code);
      if (status < 500) expect(r.body.error.message).toBe(`the ${code} case`);
    }
  });

  it("keep a 5xx's own text (paths, store URLs) out of the answer, giving an errorId instead", () => {
    const r = toErrorResponse(new PipelineError('ARTIFACT_MISMATCH', 'refusing to pull m:1: its artifact abc is missing from file:///srv/cmbn/artifacts'));
    expect(r.status).toBe(500);
    expect(r.body.error).toEqual({ code: 'ARTIFACT_MISMATCH', message: 'a stored artifact does not match its record', errorId: expect.stringMatching(/^[0-9a-f]{16}$/) });
    expect(r.errorId).toBe(r.body.error.errorId);
  });

  it('is keyed by the error family: a plain error with a pipeline code is not mapped as one', () => {
    const r = toErrorResponse(Object.assign(new Error('x'), { code: 'ARCHIVE_INVALID' }));
    expect(r.status).toBe(500);
    expect(r.body.error.code).toBe('INTERNAL');
  });
});

// Typed total over @cmbn/artifacts' codes: a code added there without a row here fails to compile.
const ARTIFACT_EXPECTED = {
  ARTIFACT_NOT_FOUND: 404,
  ARTIFACT_CORRUPT: 500,
  ARTIFACT_READ_DAMAGED: 503,
  ARTIFACT_TOO_LARGE: 413,
  INVALID_KEY: 400,
  NOT_IMPLEMENTED: 501,
  STORE_MISCONFIGURED: 503,
} as const satisfies Record<ArtifactErrorCode, number>;

describe('artifact store errors at the API edge', () => {
  it('map every code to its status', () => {
    for (const [code, status] of Object.entries(ARTIFACT_EXPECTED)) {
      expect(toErrorResponse(new ArtifactError(code as ArtifactErrorCode, `the ${code} case`)).status, code).toBe(status);
    }
  });

  it('answer a damaged read with a retryable 503 and a fixed sentence, not the store-side detail', () => {
    const r = toErrorResponse(new ArtifactReadDamagedError('a'.repeat(64), 'b'.repeat(64)));
    expect(r.status).toBe(503);
    expect(r.body.error).toEqual({ code: 'ARTIFACT_READ_DAMAGED', message: 'a read of a stored artifact was damaged on the way; retry', errorId: expect.stringMatching(/^[0-9a-f]{16}$/) });
  });
});
