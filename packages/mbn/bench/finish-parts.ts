/**
 * finishTraining (train.ts) split into its timed parts, for the current sources and for the same
 * files at an older git revision (the baseline), so both run in one process on the same inputs.
 *
 * The parts are exactly finishTraining's calls in its order: the output step (fitOutputStep), the
 * projection (projectCodes), the application (fitApplication), buildModelLayer per layer, the
 * head on the training points (applyHead = projectCodes + assignApplication) and serializeModel +
 * sha256. applyHead is composed here from the same two calls so the baseline can supply its own.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import type { CodeInput, LayerInput } from '../src/layer.ts';
import type { TMbnParams } from '../src/params.ts';
import type { MbnModel, ModelLayer } from '../src/model.ts';
import type { PcaModel } from '../src/pca.ts';
import type { FittedApplication } from '../src/application.ts';
import * as pcaNow from '../src/pca.ts';
import * as toolboxNow from '../src/pca-toolbox.ts';
import * as applicationNow from '../src/application.ts';
import * as modelNow from '../src/model.ts';

/** The functions finishTraining calls, from one set of sources. */
export interface FinishImpl {
  fitOutputStep: (code: CodeInput, step: TMbnParams['outputStep'], c: number, seed: number) => PcaModel;
  projectCodes: (code: CodeInput, pca: PcaModel) => Float64Array;
  fitApplication: (embedding: Float64Array, n: number, dim: number, params: TMbnParams, seed: number) => FittedApplication;
  assignApplication: (fitted: FittedApplication, embedding: Float64Array, n: number, dim: number) => Int32Array;
  buildModelLayer: (input: LayerInput, layer: number, k: number, params: TMbnParams) => ModelLayer;
  serializeModel: (model: MbnModel) => Uint8Array;
}

export const currentImpl: FinishImpl = {
  fitOutputStep: toolboxNow.fitOutputStep,
  projectCodes: (code, pca) => pcaNow.projectCodes(code, pca),
  fitApplication: applicationNow.fitApplication,
  assignApplication: applicationNow.assignApplication,
  buildModelLayer: modelNow.buildModelLayer,
  serializeModel: modelNow.serializeModel,
};

/** The files this bench can swap for a baseline revision (what the output stage's speed lives in). */
const SWAPPED = ['pca.ts', 'pca-linalg.ts', 'pca-toolbox.ts', 'kmeans.ts', 'application-kmeans.ts', 'application.ts', 'model.ts', 'bitpack.ts'];
const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');

/**
 * The SWAPPED files as of git revision `rev`, written to a temporary directory with their other
 * relative imports pointed back at the current sources (rng, layer, params, container: unchanged
 * by this work, and shared so both sides draw the same streams).
 */
export async function baselineImpl(rev: string): Promise<FinishImpl> {
  const dir = await mkdtemp(join(tmpdir(), 'cmbn-finish-baseline-'));
  const present = SWAPPED.filter((file) => {
    try {
      execFileSync('git', ['cat-file', '-e', `${rev}:./${file}`], { cwd: SRC, stdio: 'ignore' });
      return true;
    } catch {
      return false; // not in that revision (pca-linalg.ts was split out of pca.ts later): nothing imports it there
    }
  });
  for (const file of present) {
    const src = execFileSync('git', ['show', `${rev}:./${file}`], { cwd: SRC, encoding: 'utf8', maxBuffer: 1 << 26 });
    const rewritten = src.replace(/from '\.\/([\w.-]+\.ts)'/g, (whole, name: string) =>
      SWAPPED.includes(name) ? whole : `from '${pathToFileURL(join(SRC, name)).href}'`,
    );
    await writeFile(join(dir, file), rewritten);
  }
  const load = <T>(file: string) => import(pathToFileURL(join(dir, file)).href) as Promise<T>;
  const pca = await load<typeof pcaNow>('pca.ts');
  const toolbox = await load<typeof toolboxNow>('pca-toolbox.ts');
  const application = await load<typeof applicationNow>('application.ts');
  const model = await load<typeof modelNow>('model.ts');
  return {
    fitOutputStep: toolbox.fitOutputStep,
    projectCodes: (code, p) => pca.projectCodes(code, p),
    fitApplication: application.fitApplication,
    assignApplication: application.assignApplication,
    buildModelLayer: model.buildModelLayer,
    serializeModel: model.serializeModel,
  };
}

export interface Parts {
  pca: number;
  project: number;
  kmeans: number;
  model: number;
  head: number;
  serialize: number;
  total: number;
}

export interface FinishTiming {
  /** wall seconds per part */
  seconds: Parts;
  /** CPU seconds of this process per part (user + system; steadier than wall on a loaded machine) */
  cpuSeconds: Parts;
  /** buildModelLayer seconds per layer */
  layerModelSeconds: number[];
  modelHash: string;
  /** sha256 of the training labels and embedding (not in the model bytes, but part of the result) */
  outputHash: string;
  modelBytes: number;
}

const sha256 = (...arrays: ArrayBufferView[]) => {
  const h = createHash('sha256');
  for (const a of arrays) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return h.digest('hex');
};

/** finishTraining's steps with `impl`, each timed. */
export function timeFinish(impl: FinishImpl, inputs: LayerInput[], top: CodeInput, params: TMbnParams, ks: number[]): FinishTiming {
  const cpuNow = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };
  const cpuLaps: number[] = [];
  const lap = (() => {
    let t = performance.now();
    let c = cpuNow();
    return () => {
      const now = performance.now();
      const cNow = cpuNow();
      const s = (now - t) / 1000;
      cpuLaps.push(cNow - c);
      t = now;
      c = cNow;
      return s;
    };
  })();
  const c0 = cpuNow();
  const t0 = performance.now();
  const pca = impl.fitOutputStep(top, params.outputStep, params.clusters, params.seed);
  const tPca = lap();
  const projected = impl.projectCodes(top, pca);
  const tProject = lap();
  const application = impl.fitApplication(projected, top.n, pca.c, params, params.seed);
  const tKmeans = lap();
  const first = inputs[0]!;
  if (first.kind !== 'dense') throw new Error('layer 1 input must be dense');
  const layerModelSeconds: number[] = [];
  const layers = inputs.map((input, i) => {
    const layer = impl.buildModelLayer(input, i + 1, ks[i]!, params);
    layerModelSeconds.push(lap());
    return layer;
  });
  const tModel = layerModelSeconds.reduce((a, b) => a + b, 0);
  const model: MbnModel = { params, ks, trainPoints: first.n, inputDims: first.d, inputDType: first.dtype, layers, pca, application };
  const embedding = impl.projectCodes(top, model.pca);
  const labels = impl.assignApplication(model.application, embedding, top.n, model.pca.c);
  const tHead = lap();
  const bytes = impl.serializeModel(model);
  const modelHash = sha256(bytes);
  const tSerialize = lap();
  const total = (performance.now() - t0) / 1000;
  // laps: pca, project, kmeans, one per layer, head, serialize
  const L = inputs.length;
  const cpuModel = cpuLaps.slice(3, 3 + L).reduce((a, b) => a + b, 0);
  return {
    seconds: { pca: tPca, project: tProject, kmeans: tKmeans, model: tModel, head: tHead, serialize: tSerialize, total },
    cpuSeconds: {
      pca: cpuLaps[0]!,
      project: cpuLaps[1]!,
      kmeans: cpuLaps[2]!,
      model: cpuModel,
      head: cpuLaps[3 + L]!,
      serialize: cpuLaps[4 + L]!,
      total: cpuNow() - c0,
    },
    layerModelSeconds,
    modelHash,
    outputHash: sha256(labels, embedding),
    modelBytes: bytes.byteLength,
  };
}
