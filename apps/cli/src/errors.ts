/** Turns any thrown value into the one readable line the CLI prints before exiting non-zero. */
export function describeError(err: unknown): string {
  // The first line that says something: Prisma's messages start with an empty one.
  if (err instanceof Error) return err.message.split('\n').find((l) => l.trim() !== '')?.trim() ?? err.name;
  return String(err);
}

export class CliError extends Error {
  readonly code = 'CLI_USAGE';
}
