/**
 * MBN's output stage (finishTraining: PCA, k-means, the model layers, serialisation), timed part
 * by part on a saved top code, against the same stage from an older git revision in the same
 * process run, with the model hash checked.
 *
 * The inputs (layer 1's rows, every layer's input code, the top code) come from --dir; when it
 * holds none, MNIST's first --limit training digits are trained first (in-process, every core;
 * minutes) and saved there, together with the modelHash training's own finishTraining produced.
 * Every run checks its modelHash against that saved one ("identical"), so a change that alters the
 * model's bytes shows up even without --baseline.
 *
 * With --baseline REV the swapped files (pca, pca-toolbox, kmeans, application*, model, bitpack)
 * are taken from git revision REV and run too, rounds alternating which goes first; per part the
 * median seconds and the baseline / current ratio are printed. Cost at n points (V clusterings,
 * top k, D = V·k): the centred PCA is O(n·V·b) per block product (b = c + 10), ~6 products per
 * restart cycle; k-means O(n·c·dim) per Lloyd step; the model layers O(V·a·V·k_prev) draws,
 * independent of n above layer 1; serialisation is linear in the model's bytes.
 *
 *   npm run bench:finish -- [--dir /work/tmp/finish-20k] [--limit 20000] [--V 400]
 *                           [--k 1428,714,357,178,89,44,22] [--rounds 1] [--baseline REV]
 *                           [--output-step centred-pca|uncentred-pca|toolbox] [--json]
 *
 * For a CPU profile of one pass: node --cpu-prof --import tsx packages/mbn/bench/finish.bench.ts --dir …
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { OUTPUT_STEPS, type TMbnParams } from '../src/params.ts';
import { loadFinishInputs, makeFinishInputs } from './finish-data.ts';
import { baselineImpl, currentImpl, timeFinish, type FinishImpl, type FinishTiming, type Parts } from './finish-parts.ts';

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: '/work/tmp/finish-20k' },
    limit: { type: 'string', default: '20000' },
    V: { type: 'string', default: '400' },
    k: { type: 'string', default: '1428,714,357,178,89,44,22' },
    rounds: { type: 'string', default: '1' },
    baseline: { type: 'string' },
    /** Override the saved params' output step (the saved modelHash then no longer applies). */
    'output-step': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const log = (s: string) => process.stderr.write(`${s}\n`);
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, got ${values.rounds}`);

let data = await loadFinishInputs(values.dir);
if (!data) {
  log(`no inputs in ${values.dir}: training MNIST ${values.limit} first`);
  data = await makeFinishInputs(values.dir, Number(values.limit), { V: Number(values.V), k: values.k.split(',').map(Number) }, log);
}
const { ks, inputs, top } = data;
const stepOverride = values['output-step'] as TMbnParams['outputStep'] | undefined;
if (stepOverride !== undefined && !OUTPUT_STEPS.includes(stepOverride)) throw new Error(`--output-step must be one of ${OUTPUT_STEPS.join(', ')}`);
const params: TMbnParams = stepOverride ? { ...data.params, outputStep: stepOverride } : data.params;
// The saved hash is for the saved params; with another output step only baseline and current are compared.
const savedHash = stepOverride && stepOverride !== data.params.outputStep ? undefined : data.modelHash;
log(`n=${top.n} V=${top.V} top k=${top.k} D=${top.V * top.k} ks=${ks.join(',')} outputStep=${params.outputStep}`);

const sides: [string, FinishImpl][] = [['current', currentImpl]];
if (values.baseline) sides.push(['baseline', await baselineImpl(values.baseline)]);
const runs = new Map<string, FinishTiming[]>(sides.map(([name]) => [name, []]));
for (let r = 0; r < rounds; r++) {
  const order = r % 2 === 0 ? sides : [...sides].reverse();
  for (const [name, impl] of order) {
    const t = timeFinish(impl, inputs, top, params, ks);
    runs.get(name)!.push(t);
    const s = Object.entries(t.seconds).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');
    const c = Object.entries(t.cpuSeconds).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');
    log(`round ${r + 1} ${name}: wall ${s} s; cpu ${c} s; layers ${t.layerModelSeconds.map((x) => x.toFixed(2)).join('/')}; hash ${t.modelHash.slice(0, 12)}`);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const medians = (ts: FinishTiming[], of: 'seconds' | 'cpuSeconds' = 'seconds'): Parts => {
  const keys = Object.keys(ts[0]![of]) as (keyof Parts)[];
  return Object.fromEntries(keys.map((k) => [k, median(ts.map((t) => t[of][k]))])) as unknown as Parts;
};
const current = runs.get('current')!;
const base = runs.get('baseline');
const all = [...current, ...(base ?? [])];
const identical =
  all.every((t) => t.modelHash === (savedHash ?? all[0]!.modelHash)) && all.every((t) => t.outputHash === all[0]!.outputHash) && (savedHash !== undefined || base !== undefined);
const cur = medians(current);
const baseMed = base ? medians(base) : undefined;
const ratio = baseMed ? Object.fromEntries(Object.entries(baseMed).map(([k, v]) => [k, v / cur[k as keyof Parts]])) : undefined;
const curCpu = medians(current, 'cpuSeconds');
const baseCpu = base ? medians(base, 'cpuSeconds') : undefined;
const cpuRatio = baseCpu ? Object.fromEntries(Object.entries(baseCpu).map(([k, v]) => [k, v / curCpu[k as keyof Parts]])) : undefined;

const fmt = (p: Parts) => Object.entries(p).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ');
console.log(`finishTraining parts at n=${top.n} (median of ${rounds}; load ${loadavg().map((x) => x.toFixed(2)).join(' ')}):`);
const fmtRatio = (r: Record<string, number>) => Object.entries(r).map(([k, v]) => `${k} ${v.toFixed(2)}x`).join(', ');
console.log(`  current  wall: ${fmt(cur)} s`);
console.log(`  current  cpu : ${fmt(curCpu)} s`);
if (baseMed && ratio && baseCpu && cpuRatio) {
  console.log(`  baseline wall: ${fmt(baseMed)} s  (${values.baseline})`);
  console.log(`  baseline cpu : ${fmt(baseCpu)} s`);
  console.log(`  speed-up wall: ${fmtRatio(ratio)}`);
  console.log(`  speed-up cpu : ${fmtRatio(cpuRatio)}`);
}
console.log(`  modelHash ${current[0]!.modelHash} (saved ${savedHash ?? 'n/a for this output step'}); identical: ${identical}`);
if (values.json) {
  console.log(
    JSON.stringify({
      n: top.n,
      V: top.V,
      topK: top.k,
      ks,
      rounds,
      loadavg: loadavg(),
      current: cur,
      currentCpu: curCpu,
      currentLayerModelSeconds: current.map((t) => t.layerModelSeconds),
      ...(baseMed ? { baselineRev: values.baseline, baseline: baseMed, baselineCpu: baseCpu, speedup: ratio, speedupCpu: cpuRatio } : {}),
      modelHash: current[0]!.modelHash,
      savedModelHash: savedHash ?? null,
      identical,
    }),
  );
}
if (!identical) process.exitCode = 1;
