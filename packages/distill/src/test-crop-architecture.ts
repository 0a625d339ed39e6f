/**
 * A test-only third architecture kind (not exported, not registered): `crop`, the dense stack on the
 * centre (side − 2·margin)² pixels of a square image. It is written exactly as a real kind would be
 * (architecture-conv.ts), and architecture-seam.test.ts registers it the way a real kind is
 * registered, to show that the schema, this implementation and those two lines are all a kind needs.
 */
import { z } from 'zod';
import type { ArchitectureImpl } from './architecture-kind.ts';
import type * as RegistryModule from './architecture-registry.ts';

export const ZCropArchitecture = z.object({ kind: z.literal('crop'), margin: z.number().int().min(0).max(64) }).strict();
export type CropArchitecture = z.infer<typeof ZCropArchitecture>;

function cropSide(a: CropArchitecture, d: number): { side: number; inner: number } {
  const side = Math.round(Math.sqrt(d));
  if (side * side !== d) throw new RangeError(`a crop student needs square images; rows of ${d} columns are not a square`);
  const inner = side - 2 * a.margin;
  if (inner < 1) throw new RangeError(`crop margin ${a.margin} leaves nothing of the ${side}×${side} image`);
  return { side, inner };
}

export const cropArchitecture: ArchitectureImpl<CropArchitecture> = {
  defaults: Object.freeze({ kind: 'crop', margin: 4 }),
  params: ['margin'],
  check(a, d) {
    cropSide(a, d);
  },
  firstLayer(a, d) {
    const { side, inner } = cropSide(a, d);
    // Row-major over the inner square: tf.layers.flatten's order of the [inner, inner, 1] crop.
    const patchIndex = new Int32Array(inner * inner);
    for (let y = 0; y < inner; y++) for (let x = 0; x < inner; x++) patchIndex[y * inner + x] = (y + a.margin) * side + x + a.margin;
    return { inDim: inner * inner, positions: 1, patchIndex };
  },
  leadingWidths: () => [],
  tfjsHead(tf, a, inputDims) {
    const { side } = cropSide(a, inputDims);
    const m = a.margin;
    return {
      layers: [
        tf.layers.reshape({ name: 'student_image', targetShape: [side, side, 1], inputShape: [inputDims] }),
        tf.layers.cropping2D({ name: 'student_crop', cropping: [[m, m], [m, m]] }),
        tf.layers.flatten({ name: 'student_flatten' }),
      ],
      weights: () => [],
    };
  },
};

/**
 * architecture-registry.ts with crop registered, as a real kind's two lines would do it: the tests'
 * vi.mock factory (`vi.mock(registry, async (original) => registryWithCrop(await original()))`).
 */
export function registryWithCrop(real: typeof RegistryModule): typeof RegistryModule {
  return {
    ...real,
    ZStudentArchitecture: z.discriminatedUnion('kind', [...real.ZStudentArchitecture.options, ZCropArchitecture]),
    ARCHITECTURES: { ...real.ARCHITECTURES, crop: cropArchitecture },
  } as unknown as typeof RegistryModule;
}
