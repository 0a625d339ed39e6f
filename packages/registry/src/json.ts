import type { Prisma } from './generated/prisma/client.ts';

export type JsonObject = { [key: string]: unknown };

/** Prisma's Json input type from plain data (validated JSON-serialisable by the caller's schema). */
export function toJson(value: unknown): Prisma.InputJsonValue {
  return value as Prisma.InputJsonValue;
}

export function bigToNumber(v: bigint): number;
export function bigToNumber(v: bigint | null): number | null;
export function bigToNumber(v: bigint | null): number | null {
  return v === null ? null : Number(v);
}
