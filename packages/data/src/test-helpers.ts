// Test-only helpers of @cmbn/data (not exported from index.ts).
import { expect } from 'vitest';
import { DataError } from './data-error.ts';

/** The DataError `fn` throws, checked to be one readable line; fails the test when it throws none. */
export function dataError(fn: () => unknown): DataError {
  try {
    fn();
  } catch (e) {
    return expectDataError(e);
  }
  throw new Error('expected a DataError');
}

/** dataError for a promise: the DataError it rejects with. */
export async function rejectedDataError(p: Promise<unknown>): Promise<DataError> {
  try {
    await p;
  } catch (e) {
    return expectDataError(e);
  }
  throw new Error('expected a DataError');
}

function expectDataError(e: unknown): DataError {
  expect(e).toBeInstanceOf(DataError);
  expect((e as DataError).code).toBe('BAD_DATA');
  expect((e as DataError).message).not.toContain('\n');
  return e as DataError;
}

/** Builds an NPY file by hand so that headers/dtypes encodeNpy never writes can be tested. */
export function npyBytes(header: string, body: Uint8Array, major = 1): Uint8Array {
  const pre = major === 1 ? 10 : 12;
  const pad = (64 - ((pre + header.length + 1) % 64)) % 64;
  const h = header + ' '.repeat(pad) + '\n';
  const out = new Uint8Array(pre + h.length + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const dv = new DataView(out.buffer);
  if (major === 1) dv.setUint16(8, h.length, true);
  else dv.setUint32(8, h.length, true);
  out.set(new TextEncoder().encode(h), pre);
  out.set(body, pre + h.length);
  return out;
}
