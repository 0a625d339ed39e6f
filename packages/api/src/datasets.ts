import { z } from 'zod';
import { ZId, ZName, ZSha256 } from './common.ts';

export const ZUploadQuery = z.object({
  /** Display name (and the file name in error messages). */
  name: ZName(200).default('dataset'),
  /** When set, the upload is a labels file for this dataset (id or sha256). */
  labelsFor: ZId.optional(),
});

export const ZDataset = z
  .object({
    id: z.string(),
    sha256: ZSha256,
    name: z.string(),
    format: z.string(),
    rows: z.number().int(),
    cols: z.number().int(),
    dtype: z.string(),
    bytes: z.number().int(),
    /** sha256 of the dataset these labels belong to, when this is a labels file. */
    labelsOf: ZSha256.nullable(),
  })
  .meta({ id: 'Dataset' });
export type TDataset = z.infer<typeof ZDataset>;
