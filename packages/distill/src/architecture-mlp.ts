/** The mlp student: the dense stack on the raw row; no leading layers, nothing in front of it. */
import { z } from 'zod';
import type { ArchitectureImpl } from './architecture-kind.ts';

export const ZMlpArchitecture = z.object({ kind: z.literal('mlp') }).strict();
export type MlpArchitecture = z.infer<typeof ZMlpArchitecture>;

export const mlpArchitecture: ArchitectureImpl<MlpArchitecture> = {
  defaults: Object.freeze({ kind: 'mlp' }),
  params: [],
  check() {},
  firstLayer: (_a, d) => ({ inDim: d, positions: 1 }),
  leadingWidths: () => [],
  tfjsHead: () => ({ layers: [], weights: () => [] }),
};
