import cliProgress from 'cli-progress';
import type { TrainProgress } from '@cmbn/mbn';

/**
 * Training progress on stderr: one bar per layer (clusterings done, ETA), then the stages after
 * the top layer. stdout stays clean for --json.
 */
export function createTrainProgress(enabled: boolean): { update(p: TrainProgress): void; stop(): void } {
  if (!enabled) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      format: ' {stage} |{bar}| {value}/{total} {unit} | {percentage}% | ETA {eta_formatted} | {duration}s',
      hideCursor: true,
      stream: process.stderr,
      noTTYOutput: true,
      notTTYSchedule: 5_000,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  let layer = 0;
  let started = false;
  return {
    update(p) {
      if (p.stage === 'layer') {
        const stage = `layer ${p.layer}/${p.layers} (k=${p.k})`;
        if (p.layer !== layer) {
          if (started) bar.stop();
          bar.start(p.total, p.done, { stage, unit: p.unit ?? 'shards' });
          started = true;
          layer = p.layer;
        } else {
          bar.update(p.done, { stage, unit: p.unit ?? 'shards' });
        }
      } else {
        if (started) bar.stop();
        started = false;
        process.stderr.write(` ${p.stage === 'pca' ? 'PCA of the top layer' : p.stage === 'kmeans' ? 'k-means on the embedding' : 'writing the model'}…\n`);
      }
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}
