/**
 * The inputs of finishTraining (train.ts), saved once so the output stage can be timed on its own:
 * layer 1's raw rows, every upper layer's input code, the top code, the params and ks, and the
 * modelHash that training's own finishTraining produced (the reference the bench checks against).
 *
 * Layout of DIR: meta.json, then one raw little-endian file per array (input<l>.bin, top.bin).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { loadDataset } from '@cmbn/data';
import type { CodeInput, LayerInput } from '../src/layer.ts';
import { parseParams, type TMbnParams, type TMbnParamsInput } from '../src/params.ts';
import { ShardThreadPool } from '../src/thread-pool.ts';
import { defaultShardSize, poolLayerRunner, trainWith, type LayerRunner } from '../src/train.ts';

export interface FinishInputs {
  params: TMbnParams;
  ks: number[];
  inputs: LayerInput[];
  top: CodeInput;
  /** modelHash of training's own finishTraining on these inputs. */
  modelHash: string;
  /** Seconds training spent in its layers, and in all of trainWith (layers + finish). */
  layerSeconds: number[];
  mbnSeconds: number;
}

type ArrayMeta = { kind: 'dense'; n: number; d: number; dtype: 'uint8' | 'float32' } | { kind: 'code'; n: number; V: number; k: number };

interface Meta {
  params: TMbnParams;
  ks: number[];
  modelHash: string;
  layerSeconds: number[];
  mbnSeconds: number;
  inputs: ArrayMeta[];
  top: ArrayMeta;
}

function metaOf(input: LayerInput): ArrayMeta {
  return input.kind === 'dense' ? { kind: 'dense', n: input.n, d: input.d, dtype: input.dtype } : { kind: 'code', n: input.n, V: input.V, k: input.k };
}

function bytesOf(input: LayerInput): Uint8Array {
  const a = input.kind === 'dense' ? input.data : input.ids;
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

async function readInput(path: string, m: ArrayMeta): Promise<LayerInput> {
  const buf = await readFile(path);
  // copy into a fresh, aligned buffer
  const bytes = new Uint8Array(buf.byteLength);
  bytes.set(buf);
  if (m.kind === 'code') return { ...m, ids: new Uint16Array(bytes.buffer) };
  return { ...m, data: m.dtype === 'uint8' ? bytes : new Float32Array(bytes.buffer) };
}

export async function loadFinishInputs(dir: string): Promise<FinishInputs | undefined> {
  let meta: Meta;
  try {
    meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as Meta;
  } catch {
    return undefined;
  }
  const inputs = await Promise.all(meta.inputs.map((m, i) => readInput(join(dir, `input${i + 1}.bin`), m)));
  const top = (await readInput(join(dir, 'top.bin'), meta.top)) as CodeInput;
  return { params: meta.params, ks: meta.ks, inputs, top, modelHash: meta.modelHash, layerSeconds: meta.layerSeconds, mbnSeconds: meta.mbnSeconds };
}

/** Trains MBN in-process on the first `limit` MNIST training digits and saves what finishTraining saw. */
export async function makeFinishInputs(dir: string, limit: number, paramsInput: TMbnParamsInput, log: (s: string) => void): Promise<FinishInputs> {
  const { x } = await loadDataset('mnist-train', { limit });
  const threads = availableParallelism();
  const pool = new ShardThreadPool(threads);
  const inputs: LayerInput[] = [];
  let result;
  try {
    const onPool = poolLayerRunner(pool);
    // trainMbn's runner, keeping each layer's input on the way.
    const runLayer: LayerRunner = (input, specs, onShardDone) => {
      inputs.push(input);
      return onPool(input, specs, onShardDone);
    };
    const shardSize = defaultShardSize(parseParams(paramsInput).V, threads);
    let lastLayer = 0;
    result = await trainWith(x, paramsInput, runLayer, {
      shardSize,
      onProgress: (p) => {
        if (p.stage === 'layer' && p.layer !== lastLayer) {
          lastLayer = p.layer;
          log(`layer ${p.layer}/${p.layers} (k=${p.k})`);
        } else if (p.stage !== 'layer') log(p.stage);
      },
    });
  } finally {
    await pool.close();
  }
  const out: FinishInputs = {
    params: result.params,
    ks: result.ks,
    inputs,
    top: result.topCode,
    modelHash: result.modelHash,
    layerSeconds: result.layerSeconds,
    mbnSeconds: result.mbnSeconds,
  };
  await mkdir(dir, { recursive: true });
  await Promise.all(inputs.map((input, i) => writeFile(join(dir, `input${i + 1}.bin`), bytesOf(input))));
  await writeFile(join(dir, 'top.bin'), bytesOf(out.top));
  const meta: Meta = {
    params: out.params,
    ks: out.ks,
    modelHash: out.modelHash,
    layerSeconds: out.layerSeconds,
    mbnSeconds: out.mbnSeconds,
    inputs: inputs.map(metaOf),
    top: metaOf(out.top),
  };
  await writeFile(join(dir, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
  return out;
}
