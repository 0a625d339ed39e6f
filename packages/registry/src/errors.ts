/** CANCELLED: a version of a run that was cancelled cannot become READY (markVersionReady). */
export type RegistryErrorCode = 'NOT_FOUND' | 'CONFLICT' | 'IMMUTABLE' | 'ALIAS_IN_USE' | 'INVALID' | 'CANCELLED';

/**
 * The one error family of @cmbn/registry. `code` is stable; what it means over HTTP is decided
 * only at the API edge (apps/coordinator/src/errors.ts maps codes to statuses), so this package
 * knows nothing of HTTP.
 */
export class RegistryError extends Error {
  constructor(
    readonly code: RegistryErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

/** Prisma's known-request error code (P2002 unique violation, P2003 FK violation, P2025 not found), if any. */
export function prismaCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^P\d{4}$/.test(code) ? code : undefined;
}

/** Postgres SQLSTATE of a driver-adapter error (23503 FK violation, …), if any. */
export function sqlState(err: unknown): string | undefined {
  const e = err as { meta?: { driverAdapterError?: { cause?: { originalCode?: unknown } } }; cause?: { originalCode?: unknown } } | null;
  const s = e?.meta?.driverAdapterError?.cause?.originalCode ?? e?.cause?.originalCode;
  return typeof s === 'string' ? s : undefined;
}

/** A foreign-key violation, however Prisma reports it (P2003, or the adapter's SQLSTATE 23503). */
export function isForeignKeyViolation(err: unknown): boolean {
  return prismaCode(err) === 'P2003' || sqlState(err) === '23503';
}
