/** Turns any thrown value into the one readable line the CLI prints before exiting non-zero. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.name;
  return String(err);
}

export class CliError extends Error {
  readonly code = 'CLI_USAGE';
}
