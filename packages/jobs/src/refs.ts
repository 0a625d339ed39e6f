import { z } from 'zod';

/** A content address in the artifact store: lowercase hex sha256. */
export const ZSha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex sha256');

/**
 * A layer's input, by reference. Layer 1 reads the uploaded dataset file (any format
 * `@cmbn/data` parses); layer l > 1 reads the previous layer's code as an n × V uint16 .npy.
 * The shape rides along so a worker can refuse a mismatched artifact before computing.
 */
export const ZLayerInputRef = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('dense'),
    sha256: ZSha256,
    rows: z.number().int().min(1),
    cols: z.number().int().min(1),
  }),
  z.object({
    kind: z.literal('code'),
    sha256: ZSha256,
    rows: z.number().int().min(1),
    /** Clusterings of the previous layer (columns of the code). */
    V: z.number().int().min(1),
    /** Centres per clustering of the previous layer. */
    k: z.number().int().min(1).max(65_535),
  }),
]);
export type TLayerInputRef = z.infer<typeof ZLayerInputRef>;

/** Mirrors `ShardSpec` of @cmbn/mbn (kept here so the catalog depends on zod only for its schemas). */
export const ZShardSpec = z.object({
  layer: z.number().int().min(1),
  v0: z.number().int().min(0),
  v1: z.number().int().min(1),
  k: z.number().int().min(1).max(65_535),
  seed: z.number().int().min(0),
  a: z.number().gt(0).max(1),
  kernel: z.enum(['euclidean', 'linear']),
});
export type TShardSpec = z.infer<typeof ZShardSpec>;
