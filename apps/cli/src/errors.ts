import { errorLine } from '@cmbn/jobs';

/** Turns any thrown value into the one readable line the CLI prints before exiting non-zero. */
export function describeError(err: unknown): string {
  return errorLine(err);
}

export class CliError extends Error {
  readonly code = 'CLI_USAGE';
}
