/**
 * Child process of rss.int.test.ts: streams a large pseudo-random object into a store and back
 * while sampling this process's RSS, and prints one JSON line with what it measured. A child, so
 * that the measurement is not mixed with vitest's own allocations or other tests in the worker.
 *
 * argv: <total bytes>; env CMBN_RSS_PROBE: JSON { kind: 'file', root } | { kind: 's3', bucket, prefix, options }.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { FileArtifactStore } from './file-store.ts';
import type { S3StoreOptions } from './s3-config.ts';
import { S3ArtifactStore } from './s3-store.ts';
import type { ArtifactStore } from './store.ts';

type ProbeTarget = { kind: 'file'; root: string } | { kind: 's3'; bucket: string; prefix: string; options: S3StoreOptions };

const MiB = 1024 * 1024;
const total = Number(process.argv[2]);
const target = JSON.parse(process.env.CMBN_RSS_PROBE ?? '{}') as ProbeTarget;
const store: ArtifactStore & { close?(): void } =
  target.kind === 'file' ? new FileArtifactStore(target.root) : new S3ArtifactStore({ bucket: target.bucket, prefix: target.prefix }, target.options);

let peak = 0;
/** Peak after each phase (upload, download), to tell which one grew. */
const phases: number[] = [];
const sample = () => {
  peak = Math.max(peak, process.memoryUsage().rss);
};

/** `bytes` of xorshift output in 1 MiB chunks, generated on demand: never held whole. */
async function* pseudoRandom(bytes: number, seed: number): AsyncGenerator<Buffer> {
  let x = seed >>> 0 || 1;
  for (let off = 0; off < bytes; off += MiB) {
    const n = Math.min(MiB, bytes - off);
    const chunk = Buffer.allocUnsafe(n);
    const words = new Uint32Array(chunk.buffer, chunk.byteOffset, n >>> 2);
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x >>> 0;
    }
    for (let i = words.length * 4; i < n; i++) chunk[i] = i & 0xff;
    sample();
    yield chunk;
  }
}

async function roundTrip(bytes: number, seed: number): Promise<{ ok: boolean; sha256: string }> {
  const expected = createHash('sha256');
  const src = Readable.from(
    (async function* () {
      for await (const c of pseudoRandom(bytes, seed)) {
        expected.update(c);
        yield c;
      }
    })(),
  );
  const put = await store.putStream(src);
  phases.push(peak);
  const want = expected.digest('hex');
  const back = createHash('sha256');
  let n = 0;
  for await (const c of await store.createReadStream(put.sha256)) {
    back.update(c as Buffer);
    n += (c as Buffer).byteLength;
    sample();
  }
  phases.push(peak);
  return { ok: put.sha256 === want && back.digest('hex') === want && n === bytes && put.bytes === bytes, sha256: want };
}

// Warm up (SDK modules, sockets, the multipart path) so that the baseline is the steady state.
await roundTrip(12 * MiB, 7);
// No forced GC here: it sometimes returns tens of MiB to the OS and sometimes not, which made the
// baseline (not the peak) the noisiest number. The warm-up's garbage is a few MiB.
await new Promise((r) => setTimeout(r, 200));
const baseline = process.memoryUsage().rss;
peak = baseline;
phases.length = 0;
const timer = setInterval(sample, 5);
const result = await roundTrip(total, 12345);
clearInterval(timer);
store.close?.();
process.stdout.write(`${JSON.stringify({ ...result, baseline, peak, growth: peak - baseline, uploadGrowth: (phases[0] ?? 0) - baseline, total })}\n`);
