export { startWorker } from './worker.ts';
export type { StartWorkerOptions, WorkerHandle } from './worker.ts';
export { runWorkerProcess } from './main.ts';
export { readWorkerEnv, ZWorkerEnv } from './env.ts';
export type { TWorkerEnv } from './env.ts';
export { LayerInputCache, BadInputError } from './layer-input-cache.ts';
