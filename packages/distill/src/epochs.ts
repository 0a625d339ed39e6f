/**
 * The epoch loop of both student trainers (train.ts on tfjs, train-ort.ts on onnxruntime): the one
 * place for the batch order, the early stopping and the plateau decay, so the two cannot drift.
 */
import { permutation, Rng, shuffleInPlace } from './rng.ts';
import type { StudentSpec } from './spec.ts';
import type { EpochReport, TrainHistory } from './types.ts';

/**
 * One macrotask turn: lets timers and I/O callbacks run. tfjs-wasm computes synchronously, so without
 * this an epoch (tens of seconds at 150k points) would hold the event loop, and with it a BullMQ
 * worker's lock renewal (a timer) and its cancel subscriber. One turn per batch costs microseconds
 * against a batch's milliseconds, and it changes no number (the computation order is the same).
 */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export interface EpochHooks {
  /** One optimiser step on these rows of the training split; the batch's mean loss. */
  step(rows: Int32Array): Promise<number> | number;
  /** The validation loss (and accuracy, for labels); undefined when there is no validation split. */
  validate(): Promise<{ loss: number; acc?: number } | undefined> | { loss: number; acc?: number } | undefined;
  /** A copy of the current weights (kept while they are the best so far). */
  snapshot(): Float32Array[];
  /** Multiplies the learning rate (the plateau decay). */
  scaleLearningRate(factor: number): void;
}

export interface EpochOptions {
  onEpoch?: (e: EpochReport) => void;
  onBatch?: (epoch: number, batch: number) => void;
  signal?: AbortSignal;
}

/**
 * Batches in a seeded order (Rng stream 1: the identity permutation shuffled, then reshuffled each
 * epoch after the first), a turn of the event loop and the abort check after every batch, then per
 * epoch: the validation loss, the best weights so far, `lrDecay` on every epoch that does not
 * improve, and a stop once more than `patience` such epochs came in a row (patience 1: after the second). Returns the best epoch's weights.
 */
export async function runEpochs(
  spec: StudentSpec,
  nTrain: number,
  withValAcc: boolean,
  opts: EpochOptions,
  hooks: EpochHooks,
): Promise<{ history: TrainHistory; bestWeights: Float32Array[]; epochs: number }> {
  const history: TrainHistory = { loss: [], valLoss: [], ...(withValAcc ? { valAcc: [] } : {}) };
  const batchRng = new Rng(spec.seed, 1);
  const batchOrder = permutation(batchRng, nTrain);
  const lrDecay = spec.lrDecay ?? 1;
  let best = Infinity;
  let bestWeights: Float32Array[] | undefined;
  let sinceBest = 0;
  let epochs = 0;
  for (let epoch = 1; epoch <= spec.epochs; epoch++) {
    const te = performance.now();
    if (epoch > 1) shuffleInPlace(batchRng, batchOrder);
    let lossSum = 0;
    for (let s = 0; s < nTrain; s += spec.batchSize) {
      const m = Math.min(spec.batchSize, nTrain - s);
      lossSum += (await hooks.step(batchOrder.subarray(s, s + m))) * m;
      opts.onBatch?.(epoch, s / spec.batchSize);
      await yieldToEventLoop();
      opts.signal?.throwIfAborted();
    }
    const loss = lossSum / nTrain;
    const val = (await hooks.validate()) ?? { loss };
    history.loss.push(loss);
    history.valLoss.push(val.loss);
    if (history.valAcc && val.acc !== undefined) history.valAcc.push(val.acc);
    epochs = epoch;
    if (!Number.isFinite(val.loss)) throw new Error(`training diverged at epoch ${epoch} (loss ${val.loss}); lower learningRate`);
    if (val.loss < best) {
      best = val.loss;
      bestWeights = hooks.snapshot();
      sinceBest = 0;
    } else {
      sinceBest++;
      // Plateau decay: a smaller Adam step settles into the minimum the larger one keeps overshooting.
      if (lrDecay < 1) hooks.scaleLearningRate(lrDecay);
    }
    opts.onEpoch?.({
      epoch,
      epochs: spec.epochs,
      loss,
      valLoss: val.loss,
      ...(val.acc !== undefined ? { valAcc: val.acc } : {}),
      seconds: (performance.now() - te) / 1000,
    });
    if (sinceBest > spec.patience) break;
  }
  return { history, bestWeights: bestWeights!, epochs };
}
