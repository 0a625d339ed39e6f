export type RegistryErrorCode = 'NOT_FOUND' | 'CONFLICT' | 'IMMUTABLE' | 'ALIAS_IN_USE' | 'INVALID';

const HTTP_STATUS: Record<RegistryErrorCode, number> = {
  NOT_FOUND: 404,
  CONFLICT: 409,
  IMMUTABLE: 409,
  ALIAS_IN_USE: 409,
  INVALID: 400,
};

/** The one error family of @cmbn/registry; `code` is stable and maps to an HTTP status. */
export class RegistryError extends Error {
  readonly httpStatus: number;

  constructor(
    readonly code: RegistryErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'RegistryError';
    this.httpStatus = HTTP_STATUS[code];
  }
}

/** Prisma's known-request error code (P2002 unique violation, P2003 FK violation, P2025 not found), if any. */
export function prismaCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^P\d{4}$/.test(code) ? code : undefined;
}
