/**
 * The architecture seam: a kind is its file (schema + ArchitectureImpl) and its registration
 * (architecture-registry.ts: a member of the union, an entry in ARCHITECTURES), and nothing else.
 *
 * - At compile time (tsc, `npm run typecheck`): the registry is total over the union, so a member
 *   without an implementation, an implementation without a member, or an implementation missing a
 *   part does not compile.
 * - At run time: this file registers a test-only third kind, `crop` (test-crop-architecture.ts),
 *   through the same two lines (a vi.mock of architecture-registry.ts that extends the union and the
 *   map, and changes nothing else), and runs every registered kind — mlp, conv and crop alike, by the
 *   same code, no kind named — through the shared paths: the CLI's positional parameters, training,
 *   int8 calibration, saveStudent / loadStudent (student.json's schema, the tfjs layers model, both
 *   ONNX graphs), the hidden widths read back, and prediction on onnxruntime (fp32, int8) and tfjs.
 *   A path that still branched on the kinds it knows would fail for crop.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ArchitectureImpl } from './architecture-kind.ts';
import type * as RegistryModule from './architecture-registry.ts';
import { ARCHITECTURES, type ArchitectureRegistry, type StudentArchitecture } from './architecture-registry.ts';
import {
  ARCHITECTURE_KINDS,
  architectureFromParams,
  architectureParams,
  checkArchitecture,
  defaultArchitecture,
  hiddenWidths,
  leadingWidths,
  storedArchitecture,
} from './architecture.ts';
import { loadTf } from './backend.ts';
import { readMnist } from './mnist-fixture.ts';
import { createStudentPredictor } from './predictor.ts';
import type { StudentSpec } from './spec.ts';
import { loadStudent, saveStudent } from './student-files.ts';
import { cropArchitecture, type CropArchitecture } from './test-crop-architecture.ts';
import { trainStudent } from './train.ts';

// The registration of crop, as a real kind's would be written in architecture-registry.ts.
vi.mock('./architecture-registry.ts', async (importOriginal) =>
  (await import('./test-crop-architecture.ts')).registryWithCrop(await importOriginal<typeof RegistryModule>()),
);

// Compile-time half: each line below is what tsc (npm run typecheck) accepts or refuses.
type WithCrop = StudentArchitecture | CropArchitecture;
const registered: ArchitectureRegistry<WithCrop> = { ...ARCHITECTURES, crop: cropArchitecture };
// @ts-expect-error a member of the union without its implementation
const _noImpl: ArchitectureRegistry<WithCrop> = { ...ARCHITECTURES };
// @ts-expect-error an implementation without its member in the union
const _noMember: ArchitectureRegistry<StudentArchitecture> = { ...ARCHITECTURES, crop: cropArchitecture };
// @ts-expect-error an implementation without every part a kind owns (here its tfjs layers-model head)
const _partial: ArchitectureImpl<CropArchitecture> = { ...cropArchitecture, tfjsHead: undefined };

const train = readMnist('train', 1000);
const held = readMnist('t10k', 200);
const spec: Omit<StudentSpec, 'architecture'> = { hidden: [16], target: 'labels', epochs: 8, batchSize: 32, learningRate: 3e-3, validationSplit: 0.2, patience: 3, seed: 5 };

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'cmbn-seam-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function runOnnx(file: string, x: typeof held.x): Promise<number[]> {
  const session = await ort.InferenceSession.create(await readFile(file));
  const out = await session.run({ X: new ort.Tensor('uint8', x.data, [x.rows, x.cols]) });
  await session.release();
  return Array.from(out.labels!.data as Int32Array);
}

describe('the architecture seam', () => {
  it('registers the test-only kind through the registry alone', () => {
    expect(Object.keys(registered)).toEqual(['mlp', 'conv', 'crop']);
    expect(ARCHITECTURE_KINDS).toEqual(['mlp', 'conv', 'crop']);
    expect(checkArchitecture({ kind: 'crop', margin: 3 }, 784)).toEqual({ kind: 'crop', margin: 3 });
    expect(() => checkArchitecture({ kind: 'crop', margin: 14 }, 784)).toThrow(/crop margin 14 leaves nothing of the 28×28 image/);
    expect(() => checkArchitecture({ kind: 'transformer' })).toThrow(/unknown student architecture "transformer" \(known: mlp, conv, crop\)/);
  });

  for (const kind of ARCHITECTURE_KINDS) {
    it(`${kind}: parameters, training, the files and every runtime through the shared paths`, async () => {
      const architecture = defaultArchitecture(kind);
      // The CLI's positional form (`--student-conv 16,5,2`): the defaults' own values give the defaults back.
      const values = architectureParams(kind).map((p) => (architecture as unknown as Record<string, number>)[p]!);
      expect(architectureFromParams(kind, values)).toEqual(architecture);
      expect(() => architectureFromParams(kind, [...values, 1])).toThrow(RangeError);

      const { tf } = await loadTf();
      const before = tf.memory().numTensors;
      const student = await trainStudent(train.x, { kind: 'labels', labels: train.labels, classes: 10 }, { ...spec, architecture });
      expect(tf.memory().numTensors).toBe(before);
      expect(student.architecture).toEqual(storedArchitecture(architecture));
      expect(student.layers.map((l) => l.outDim)).toEqual([...leadingWidths(architecture), ...spec.hidden, 10]);
      expect(student.activationRanges).toHaveLength(student.layers.length);

      const dir = join(root, kind);
      await saveStudent(student, dir);
      const loaded = await loadStudent(dir);
      expect(loaded.architecture).toEqual(student.architecture);
      expect(loaded.layers).toEqual(student.layers);
      expect(loaded.activationRanges).toEqual(student.activationRanges);
      expect(hiddenWidths(loaded)).toEqual(spec.hidden);

      const fp32 = await createStudentPredictor(loaded, { precision: 'fp32', threads: 1 });
      const want = Array.from((await fp32.predict(held.x)).labels!);
      await fp32.dispose();
      expect(want.filter((l, i) => l === held.labels[i]).length / held.x.rows).toBeGreaterThan(0.7);
      expect(await runOnnx(join(dir, 'model.onnx'), held.x)).toEqual(want);
      const tfjsP = await createStudentPredictor(loaded, { runtime: 'tfjs' });
      const viaTfjs = Array.from((await tfjsP.predict(held.x)).labels!);
      await tfjsP.dispose();
      // float32 summation orders differ between the runtimes: at most a near-tie may flip.
      expect(viaTfjs.filter((l, i) => l !== want[i]).length).toBeLessThanOrEqual(1);
      const int8 = await createStudentPredictor(loaded, { threads: 1 });
      const viaInt8 = Array.from((await int8.predict(held.x)).labels!);
      await int8.dispose();
      expect(await runOnnx(join(dir, 'model.int8.onnx'), held.x)).toEqual(viaInt8);
      expect(viaInt8.filter((l, i) => l === want[i]).length).toBeGreaterThanOrEqual(196);

      // The saved tfjs layers model, built from the kind's head, on normalised input.
      const mj = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
      const weights = await readFile(join(dir, 'weights.bin'));
      const model = await tf.loadLayersModel(
        tf.io.fromMemory({ modelTopology: mj.modelTopology, weightSpecs: mj.weightsManifest[0].weights, weightData: new Uint8Array(weights).buffer }),
      );
      const viaLayers = tf.tidy(() => Array.from(tf.argMax(model.predict(tf.tensor2d(Float32Array.from(held.x.data, (v) => v / 255), [held.x.rows, held.x.cols])) as never, 1).dataSync()));
      model.dispose();
      expect(viaLayers.filter((l, i) => l !== want[i]).length).toBeLessThanOrEqual(1);
    });
  }
});
