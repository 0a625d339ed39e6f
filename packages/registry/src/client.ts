import { PrismaPg } from 'adapter-pg7';
import { PrismaClient } from './generated/prisma/client.ts';
import type { Prisma } from './generated/prisma/client.ts';
import { RegistryError } from './errors.ts';

export const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/cmbn';

export type Db = PrismaClient;
export type Tx = Prisma.TransactionClient;

let current: { url: string; client: PrismaClient } | undefined;

/** The URL getDb() uses when none is given: DATABASE_URL, else the local default. */
export function resolveDatabaseUrl(databaseUrl?: string): string {
  return databaseUrl ?? process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
}

/**
 * The process-wide PrismaClient (Rust-free client engine over the pg driver adapter).
 * The first call fixes the URL; asking for another URL while one is open is a programming error
 * (call closeDb() first), because every repository function in this package uses this singleton.
 */
/** pg's connection attempt timeout (its default, 0, waits forever). */
const CONNECT_TIMEOUT_MS = 10_000;

export function getDb(databaseUrl?: string): PrismaClient {
  if (current !== undefined) {
    if (databaseUrl !== undefined && databaseUrl !== current.url) {
      throw new RegistryError('INVALID', 'getDb: a client for another database is open; call closeDb() first');
    }
    return current.client;
  }
  const url = resolveDatabaseUrl(databaseUrl);
  // A connection attempt to a host that never answers (firewalled, black-holed) gives up after
  // CONNECT_TIMEOUT_MS instead of pg's default of never: the queries behind it fail as transient
  // and are retried, and closeDb() (which waits for pending connects) stays bounded.
  const client = new PrismaClient({ adapter: new PrismaPg({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS }) });
  current = { url, client };
  return client;
}

/** The URL of the open client, if any. */
export function currentDatabaseUrl(): string | undefined {
  return current?.url;
}

export async function closeDb(): Promise<void> {
  const c = current;
  current = undefined;
  await c?.client.$disconnect();
}

/**
 * Runs fn in one interactive transaction (READ COMMITTED unless told otherwise).
 * maxWait/timeout are raised from Prisma's 2 s / 5 s defaults: registrations queue on a row lock.
 */
export function withTransaction<T>(
  fn: (tx: Tx) => Promise<T>,
  opts: { maxWait?: number; timeout?: number; isolationLevel?: Prisma.TransactionIsolationLevel } = {},
): Promise<T> {
  return getDb().$transaction(fn, { maxWait: 10_000, timeout: 30_000, ...opts });
}
