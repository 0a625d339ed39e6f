/**
 * One thread of sparse-bound.ts's increment-rate measure: the trainer's own grouped sparse kernel
 * (@cmbn/kernels assignSparseGroup: the addon's when built, as in training) on a synthetic group
 * of one layer's shape (Vp, k, G) whose previous clusterings have only 2 centres, so every kept
 * active feature matches about k/2 centres of each clustering and the score increments outnumber
 * the lookups and the argmax scans ~100 to 1: the kernel then runs at its increment rate.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { assignSparseGroup, buildSparseGroupIndex } from '@cmbn/kernels';

const w = workerData as { Vp: number; k: number; G: number; n: number; a: number; seed: number };
const KP = 2;
let s = w.seed >>> 0;
// A per-thread LCG: the rate does not depend on the values, only on their shape.
const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
const codes = new Uint16Array(w.n * w.Vp);
for (let i = 0; i < codes.length; i++) codes[i] = next() < 0.5 ? 0 : 1;
const clusterings = Array.from({ length: w.G }, () => {
  const kept: number[] = [];
  for (let f = 0; f < w.Vp * KP; f++) if (next() < w.a) kept.push(f);
  const centreCodes = new Uint16Array(w.k * w.Vp);
  for (let i = 0; i < centreCodes.length; i++) centreCodes[i] = next() < 0.5 ? 0 : 1;
  return { keptFeatures: Uint32Array.from(kept), centreCodes };
});
const index = buildSparseGroupIndex(w.Vp, KP, clusterings, w.k);
const out = new Uint16Array(w.n * w.G);
const run = () => assignSparseGroup(index, codes, w.n, out, w.G, 0);
run(); // warm-up
parentPort!.on('message', () => parentPort!.postMessage(run()));
parentPort!.postMessage('ready');
