/**
 * tfjs backend selection. tfjs-node(-gpu) bind libtensorflow, whose install downloads from Google
 * storage, so they are optional: imported through a variable specifier so that neither TypeScript nor
 * a bundler requires them, and only used where a worker image ships them.
 */
import * as tfjs from '@tensorflow/tfjs';

export type TfBackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
export type Tf = typeof tfjs;

const ORDER: TfBackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/** The tfjs backend name that each of ours registers ('tensorflow' serves both node builds). */
const TFJS_NAME: Record<TfBackendName, string> = {
  'tensorflow-gpu': 'tensorflow',
  tensorflow: 'tensorflow',
  wasm: 'wasm',
  cpu: 'cpu',
};

let loaded: { tf: Tf; backend: TfBackendName } | undefined;

async function tryImport(specifier: string): Promise<unknown> {
  try {
    return await import(specifier);
  } catch {
    return undefined;
  }
}

async function activate(tf: Tf, name: TfBackendName): Promise<boolean> {
  try {
    const ok = await tf.setBackend(TFJS_NAME[name]);
    if (!ok) return false;
    await tf.ready();
    return true;
  } catch {
    return false;
  }
}

async function tryBackend(name: TfBackendName): Promise<{ tf: Tf; backend: TfBackendName } | undefined> {
  if (name === 'tensorflow-gpu' || name === 'tensorflow') {
    // These packages re-export the whole tfjs API bound to libtensorflow; use their module as `tf`.
    const spec = name === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
    const mod = (await tryImport(spec)) as (Tf & { default?: Tf }) | undefined;
    if (!mod) return undefined;
    const tf = (mod.default ?? mod) as Tf;
    return (await activate(tf, name)) ? { tf, backend: name } : undefined;
  }
  if (name === 'wasm') {
    // Registers the 'wasm' backend with the @tensorflow/tfjs engine imported above (same tfjs-core).
    if ((await tryImport('@tensorflow/tfjs-backend-wasm')) === undefined) return undefined;
    return (await activate(tfjs, 'wasm')) ? { tf: tfjs, backend: 'wasm' } : undefined;
  }
  return (await activate(tfjs, 'cpu')) ? { tf: tfjs, backend: 'cpu' } : undefined;
}

/**
 * Picks the fastest available backend: tensorflow-gpu → tensorflow → wasm → cpu, starting from
 * `prefer` when given (an unavailable preference falls through to the next in that order).
 * tfjs has one global backend per process, so the choice is cached: later calls with a different
 * preference switch the global backend.
 */
export async function loadTf(prefer?: TfBackendName): Promise<{ tf: Tf; backend: TfBackendName }> {
  if (loaded && (prefer === undefined || prefer === loaded.backend)) {
    if (loaded.tf.getBackend() === TFJS_NAME[loaded.backend] || (await activate(loaded.tf, loaded.backend))) return loaded;
  }
  const start = prefer === undefined ? 0 : ORDER.indexOf(prefer);
  for (const name of ORDER.slice(Math.max(0, start))) {
    const got = await tryBackend(name);
    if (got) {
      loaded = got;
      return got;
    }
  }
  throw new Error('no tfjs backend could be initialised');
}
