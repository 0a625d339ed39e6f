import { RegistryError } from './errors.ts';

/**
 * Page tokens of a model's versions are opaque to clients: the last version number seen, in
 * newest-first order (keyset paging). One encoding for the version search and the model detail, so
 * the detail's nextPageToken continues in the search.
 */
export function encodeVersionToken(version: number): string {
  return Buffer.from(JSON.stringify({ before: version })).toString('base64url');
}

export function decodeVersionToken(token: string): number {
  try {
    const v = (JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { before?: unknown }).before;
    if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 2_147_483_647) return v;
  } catch {
    /* fall through */
  }
  throw new RegistryError('INVALID', 'invalid page token: pass back the nextPageToken of the previous page unchanged');
}
