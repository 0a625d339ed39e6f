/**
 * Preload (`node --import ./bench/mem-sampler.mjs …`) that appends the process's memory breakdown
 * as one JSON line every CMBN_MEM_SAMPLE_MS (default 250) to CMBN_MEM_LOG, so the paper bench can
 * say which part of a child's RSS is V8 heap, external memory or ArrayBuffers, and when it peaked.
 * `rss` is the whole process (every thread); heap/external/arrayBuffers are the main isolate's only,
 * so rss − (heapTotal + external) is roughly the native baseline plus other threads' memory.
 */
import { appendFileSync } from 'node:fs';

const file = process.env.CMBN_MEM_LOG;
if (file) {
  const every = Number(process.env.CMBN_MEM_SAMPLE_MS ?? 250);
  const t0 = Date.now();
  const sample = () => {
    const m = process.memoryUsage();
    appendFileSync(file, `${JSON.stringify({ t: Date.now() - t0, rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers })}\n`);
  };
  sample();
  setInterval(sample, every).unref();
}
