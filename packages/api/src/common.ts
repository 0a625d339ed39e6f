import { z } from 'zod';

/** Largest value of a Postgres int4 column (model versions). */
export const INT4_MAX = 2_147_483_647;

// C0 controls and DEL: never part of an id or a name, and Postgres cannot store NUL at all.
const CONTROL = /[\u0000-\u001f\u007f]/;
const noControl = (s: string) => !CONTROL.test(s);
const NO_CONTROL = 'must not contain control characters (NUL, newline, …)';

/** A dataset, run or version id (uuid or sha256, checked by the registry): bounded, no control characters. */
export const ZId = z.string().min(1).max(200).refine(noControl, NO_CONTROL);
/** A display or model name, an alias, a model ref. */
export const ZName = (max: number) => z.string().min(1).max(max).refine(noControl, NO_CONTROL);
export const ZModelName = ZName(128);
export const ZAliasName = ZName(64);
/** A version number in a path segment or query: a positive integer that fits the int4 column. */
export const ZVersionParam = z.coerce.number().int().min(1).max(INT4_MAX);
/** A version number in a JSON body. */
export const ZVersionNumber = z.number().int().min(1).max(INT4_MAX);
export const ZSha256 = z.string().regex(/^[0-9a-f]{64}$/);
/** A timestamp as JSON carries it (Date.prototype.toJSON). */
export const ZTimestamp = z.iso.datetime();

export const ZIdParams = z.object({ id: ZId });
export const ZNameParams = z.object({ name: ZModelName });

/** Every error: a stable code, a message for people, details for programs; 5xx add an errorId for the logs. */
export const ZErrorBody = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      details: z.unknown().optional(),
      errorId: z.string().optional(),
    }),
  })
  .meta({ id: 'Error' });
export type TErrorBody = z.infer<typeof ZErrorBody>;

/** A Date as JSON carries it; null stays null. */
export function iso(d: Date): string;
export function iso(d: Date | null): string | null;
export function iso(d: Date | null): string | null {
  return d === null ? null : d.toISOString();
}
