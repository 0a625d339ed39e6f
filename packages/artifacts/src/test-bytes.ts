/** Test-only byte helpers shared by the store's contract and damaged-read tests. */

/** `bytes` pseudo-random bytes (xorshift32 from `seed`): distinct contents, hence distinct keys, per seed. */
export function pattern(bytes: number, seed = 1): Uint8Array {
  const out = new Uint8Array(bytes);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Reads a stream to its end or its error; returns what arrived before either. */
export async function drain(s: NodeJS.ReadableStream): Promise<{ bytes: Buffer; error?: unknown }> {
  const parts: Buffer[] = [];
  try {
    for await (const c of s) parts.push(c as Buffer);
    return { bytes: Buffer.concat(parts) };
  } catch (error) {
    return { bytes: Buffer.concat(parts), error };
  }
}
