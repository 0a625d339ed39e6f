/**
 * The registration of the student architecture kinds: the zod union of their schemas and the map of
 * their implementations, the only place that lists them. The map is typed total over the union, so a
 * member without an implementation (or an implementation without a member) does not compile
 * (architecture-seam.test.ts).
 */
import { z } from 'zod';
import type { ArchitectureImpl } from './architecture-kind.ts';
import { convArchitecture, ZConvArchitecture } from './architecture-conv.ts';
import { mlpArchitecture, ZMlpArchitecture } from './architecture-mlp.ts';

export const ZStudentArchitecture = z.discriminatedUnion('kind', [ZMlpArchitecture, ZConvArchitecture]);
export type StudentArchitecture = z.infer<typeof ZStudentArchitecture>;

/** One implementation per member of the union U, keyed by its kind. */
export type ArchitectureRegistry<U extends { kind: string }> = { readonly [K in U['kind']]: ArchitectureImpl<Extract<U, { kind: K }>> };

/** In key order: error messages list the kinds in it ("known: mlp, conv"). */
export const ARCHITECTURES: ArchitectureRegistry<StudentArchitecture> = { mlp: mlpArchitecture, conv: convArchitecture };
