import { getDb, withTransaction } from './client.ts';
import type { Tx } from './client.ts';
import { RegistryError } from './errors.ts';
import { Prisma } from './generated/prisma/client.ts';
import type { LayerStatus, Run, RunLayer, RunStatus, Shard, ShardStatus } from './generated/prisma/client.ts';
import { toJson } from './json.ts';
import type { JsonObject } from './json.ts';

export type { LayerStatus, Run, RunLayer, RunStatus, Shard, ShardStatus };

export const TERMINAL_RUN_STATUSES: readonly RunStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED'];
export const UNFINISHED_RUN_STATUSES: readonly RunStatus[] = ['QUEUED', 'RUNNING', 'DISTILLING'];

export interface CreateRunInput {
  datasetId: string;
  labelsId?: string | null;
  params: JsonObject;
  ks: number[];
  seed: number;
  /** Clusterings per shard; null or absent lets each layer be sized from its cost. */
  shardSize?: number | null;
}

export async function createRun(input: CreateRunInput): Promise<Run> {
  return getDb().run.create({
    data: {
      datasetId: input.datasetId,
      labelsId: input.labelsId ?? null,
      params: toJson(input.params),
      ks: toJson(input.ks),
      seed: input.seed,
      shardSize: input.shardSize ?? null,
      status: 'QUEUED',
    },
  });
}

export async function getRun(id: string): Promise<Run> {
  const r = await getDb().run.findUnique({ where: { id } });
  if (r === null) throw new RegistryError('NOT_FOUND', `run ${id} not found`);
  return r;
}

export interface RunPatch {
  currentLayer?: number;
  modelHash?: string | null;
  modelSha256?: string | null;
  metrics?: JsonObject | null;
  summary?: JsonObject | null;
  error?: string | null;
  mbnSeconds?: number | null;
}

/**
 * Moves a run to `status` and applies `patch`. startedAt is set on the first RUNNING, finishedAt on a
 * terminal status. A terminal run stays terminal (CONFLICT), so a late worker cannot revive a cancelled run.
 */
export async function setRunStatus(id: string, status: RunStatus, patch: RunPatch = {}): Promise<Run> {
  const now = new Date();
  const { metrics, summary, ...rest } = patch;
  const { count } = await getDb().run.updateMany({
    where: { id, status: { notIn: [...TERMINAL_RUN_STATUSES] } },
    data: {
      ...rest,
      ...(metrics !== undefined ? { metrics: metrics === null ? Prisma.DbNull : toJson(metrics) } : {}),
      ...(summary !== undefined ? { summary: summary === null ? Prisma.DbNull : toJson(summary) } : {}),
      status,
      ...(TERMINAL_RUN_STATUSES.includes(status) ? { finishedAt: now } : {}),
    },
  });
  if (count === 0) {
    const r = await getRun(id);
    throw new RegistryError('CONFLICT', `run ${id} is ${r.status} and cannot become ${status}`);
  }
  if (status === 'RUNNING') await getDb().run.updateMany({ where: { id, startedAt: null }, data: { startedAt: now } });
  return getRun(id);
}

/**
 * The run's status, with its row locked FOR UPDATE until `tx` ends (undefined: no such run). The one
 * lock that orders a cancel against its student becoming READY: `cancelRun` and `markVersionReady`
 * both take it first, so one of them sees what the other committed.
 */
export async function lockRunStatus(tx: Tx, runId: string): Promise<RunStatus | undefined> {
  const rows = await tx.$queryRaw<{ status: RunStatus }[]>`SELECT "status"::text AS "status" FROM "Run" WHERE "id" = ${runId} FOR UPDATE`;
  return rows[0]?.status;
}

/**
 * Cancels a run that has not ended, and fails its PENDING model versions, in one transaction. A run
 * whose student is already READY is not cancelled (CONFLICT): it has produced what it was asked for
 * and is finishing. With markVersionReady holding the same row lock, a cancel and a registration
 * racing each other end one way or the other, never as a CANCELLED run with a READY version.
 */
export async function cancelRun(id: string, reason: string): Promise<Run> {
  return withTransaction(async (tx) => {
    const status = await lockRunStatus(tx, id);
    if (status === undefined) throw new RegistryError('NOT_FOUND', `run ${id} not found`);
    if (TERMINAL_RUN_STATUSES.includes(status)) throw new RegistryError('CONFLICT', `run ${id} is already ${status}`);
    const ready = await tx.modelVersion.findFirst({ where: { runId: id, status: 'READY' }, select: { modelName: true, version: true } });
    if (ready !== null) {
      throw new RegistryError('CONFLICT', `run ${id} has already registered its student as ${ready.modelName}:${ready.version}; it is finishing and cannot be cancelled`);
    }
    await tx.$executeRaw`UPDATE "ModelVersion" SET "status" = 'FAILED', "tags" = "tags" || jsonb_build_object('error', ${`run ${id} was cancelled`}::text)
      WHERE "runId" = ${id} AND "status" = 'PENDING'`;
    return tx.run.update({ where: { id }, data: { status: 'CANCELLED', error: reason, finishedAt: new Date() } });
  });
}

/** Runs a restarted coordinator must pick up again, oldest first, with their layers. */
export async function listUnfinishedRuns(): Promise<(Run & { layers: RunLayer[] })[]> {
  return getDb().run.findMany({
    where: { status: { in: [...UNFINISHED_RUN_STATUSES] } },
    orderBy: { createdAt: 'asc' },
    include: { layers: { orderBy: { layer: 'asc' } } },
  });
}

export async function listRuns(opts: { limit?: number; status?: RunStatus } = {}): Promise<Run[]> {
  return getDb().run.findMany({
    where: opts.status === undefined ? {} : { status: opts.status },
    orderBy: { createdAt: 'desc' },
    take: opts.limit ?? 100,
  });
}

export interface CreateLayerInput {
  runId: string;
  layer: number;
  k: number;
  inputSha256: string;
  /** Shard i covers clusterings [v0, v1). */
  shards: { v0: number; v1: number }[];
}

/**
 * Creates the layer and its PENDING shards in one transaction. Idempotent: a restarted coordinator
 * calling it again gets the existing layer (its progress untouched) as long as the plan matches.
 */
export async function createLayer(input: CreateLayerInput): Promise<RunLayer> {
  return withTransaction(async (tx) => {
    const existing = await tx.runLayer.findUnique({ where: { runId_layer: { runId: input.runId, layer: input.layer } } });
    if (existing !== null) {
      if (existing.shardsTotal !== input.shards.length || existing.k !== input.k || existing.inputSha256 !== input.inputSha256) {
        throw new RegistryError('CONFLICT', `layer ${input.layer} of run ${input.runId} exists with a different plan`);
      }
      return existing;
    }
    const layer = await tx.runLayer.create({
      data: { runId: input.runId, layer: input.layer, k: input.k, inputSha256: input.inputSha256, shardsTotal: input.shards.length, status: 'PENDING' },
    });
    await tx.shard.createMany({
      data: input.shards.map((s, index) => ({ runId: input.runId, layer: input.layer, index, v0: s.v0, v1: s.v1, status: 'PENDING' as const })),
    });
    await tx.run.update({ where: { id: input.runId }, data: { currentLayer: input.layer } });
    return layer;
  });
}

export async function getLayer(runId: string, layer: number): Promise<RunLayer> {
  const l = await getDb().runLayer.findUnique({ where: { runId_layer: { runId, layer } } });
  if (l === null) throw new RegistryError('NOT_FOUND', `layer ${layer} of run ${runId} not found`);
  return l;
}

/** Sets a layer's status; DONE records its merged output. */
export async function setLayerStatus(runId: string, layer: number, status: LayerStatus, outputSha256?: string): Promise<RunLayer> {
  const now = new Date();
  await getLayer(runId, layer);
  return getDb().runLayer.update({
    where: { runId_layer: { runId, layer } },
    data: {
      status,
      ...(outputSha256 !== undefined ? { outputSha256 } : {}),
      ...(status === 'DONE' || status === 'FAILED' ? { finishedAt: now } : {}),
    },
  });
}

type ShardKey = { runId: string; layer: number; index: number };

async function shardOrThrow(key: ShardKey): Promise<Shard> {
  const s = await getDb().shard.findUnique({ where: { runId_layer_index: key } });
  if (s === null) throw new RegistryError('NOT_FOUND', `shard ${key.index} of layer ${key.layer} of run ${key.runId} not found`);
  return s;
}

/** PENDING/FAILED → QUEUED (enqueued on the job queue). A DONE shard is left alone and returned. */
export async function markShardQueued(runId: string, layer: number, index: number): Promise<Shard> {
  const key = { runId, layer, index };
  await getDb().shard.updateMany({ where: { ...key, status: { not: 'DONE' } }, data: { status: 'QUEUED', error: null } });
  return shardOrThrow(key);
}

/**
 * A worker picked the shard up: attempts + 1, and the layer (and run) show RUNNING.
 * Returns `null` when the shard is already DONE (the worker may skip the work).
 */
export async function markShardRunning(runId: string, layer: number, index: number, workerId: string): Promise<Shard | null> {
  const key = { runId, layer, index };
  return withTransaction(async (tx) => {
    const { count } = await tx.shard.updateMany({
      where: { ...key, status: { not: 'DONE' } },
      data: { status: 'RUNNING', workerId, attempts: { increment: 1 } },
    });
    if (count === 0) {
      const s = await tx.shard.findUnique({ where: { runId_layer_index: key } });
      if (s === null) throw new RegistryError('NOT_FOUND', `shard ${index} of layer ${layer} of run ${runId} not found`);
      return null;
    }
    const now = new Date();
    await tx.runLayer.updateMany({ where: { runId, layer, status: 'PENDING' }, data: { status: 'RUNNING', startedAt: now } });
    return tx.shard.findUniqueOrThrow({ where: { runId_layer_index: key } });
  });
}

export interface ShardDoneResult {
  /** true only for the call that moved the shard to DONE; retries and duplicates get false. */
  first: boolean;
  shard: Shard;
  shardsDone: number;
  shardsTotal: number;
  /** every shard of the layer is DONE (the coordinator may merge). */
  layerComplete: boolean;
}

/**
 * Idempotent: only the first DONE counts toward the layer's shardsDone. The conditional update
 * (status <> DONE) and the counter increment commit together; a concurrent duplicate blocks on the
 * shard's row lock, then re-checks the condition, finds DONE and changes nothing. A duplicate whose
 * output differs is a determinism bug and is refused (CONFLICT).
 */
export async function markShardDone(
  runId: string,
  layer: number,
  index: number,
  result: { outputSha256: string; seconds?: number; workerId?: string },
): Promise<ShardDoneResult> {
  const key = { runId, layer, index };
  return withTransaction(async (tx) => {
    const { count } = await tx.shard.updateMany({
      where: { ...key, status: { not: 'DONE' } },
      data: {
        status: 'DONE',
        outputSha256: result.outputSha256,
        error: null,
        ...(result.seconds !== undefined ? { seconds: result.seconds } : {}),
        ...(result.workerId !== undefined ? { workerId: result.workerId } : {}),
      },
    });
    const shard = await tx.shard.findUnique({ where: { runId_layer_index: key } });
    if (shard === null) throw new RegistryError('NOT_FOUND', `shard ${index} of layer ${layer} of run ${runId} not found`);
    if (count === 0 && shard.outputSha256 !== result.outputSha256) {
      throw new RegistryError('CONFLICT', `shard ${index} of layer ${layer} of run ${runId} is DONE with a different output`, {
        existing: shard.outputSha256,
        got: result.outputSha256,
      });
    }
    const l =
      count === 1
        ? await tx.runLayer.update({ where: { runId_layer: { runId, layer } }, data: { shardsDone: { increment: 1 } } })
        : await tx.runLayer.findUniqueOrThrow({ where: { runId_layer: { runId, layer } } });
    return { first: count === 1, shard, shardsDone: l.shardsDone, shardsTotal: l.shardsTotal, layerComplete: l.shardsDone === l.shardsTotal };
  });
}

/** Records a failed attempt. A DONE shard stays DONE (a late failure of a duplicate changes nothing). */
export async function markShardFailed(runId: string, layer: number, index: number, error: string): Promise<Shard> {
  const key = { runId, layer, index };
  await getDb().shard.updateMany({ where: { ...key, status: { not: 'DONE' } }, data: { status: 'FAILED', error } });
  return shardOrThrow(key);
}

export async function listShards(runId: string, layer: number, opts: { status?: ShardStatus | ShardStatus[] } = {}): Promise<Shard[]> {
  const status = opts.status === undefined ? undefined : Array.isArray(opts.status) ? { in: opts.status } : opts.status;
  return getDb().shard.findMany({ where: { runId, layer, ...(status === undefined ? {} : { status }) }, orderBy: { index: 'asc' } });
}

export interface LayerProgress {
  layer: number;
  k: number;
  status: LayerStatus;
  shardsTotal: number;
  shardsDone: number;
  inputSha256: string;
  outputSha256: string | null;
  /** shard count per status */
  shards: Record<ShardStatus, number>;
  /** Wall seconds from the layer's first shard starting to its assembly; null until it is DONE. */
  seconds: number | null;
  /** When the layer's first shard started; null before. */
  startedAt: Date | null;
}

export interface RunProgress {
  run: Run;
  layers: LayerProgress[];
}

/** The run with per-layer shard counts (one grouped query for the shards). */
export async function getRunProgress(runId: string): Promise<RunProgress> {
  const db = getDb();
  const run = await db.run.findUnique({ where: { id: runId }, include: { layers: { orderBy: { layer: 'asc' } } } });
  if (run === null) throw new RegistryError('NOT_FOUND', `run ${runId} not found`);
  const groups = await db.shard.groupBy({ by: ['layer', 'status'], where: { runId }, _count: { _all: true } });
  const { layers, ...rest } = run;
  return {
    run: rest,
    layers: layers.map((l) => {
      const shards: Record<ShardStatus, number> = { PENDING: 0, QUEUED: 0, RUNNING: 0, DONE: 0, FAILED: 0 };
      for (const g of groups) if (g.layer === l.layer) shards[g.status] = g._count._all;
      return {
        layer: l.layer,
        k: l.k,
        status: l.status,
        shardsTotal: l.shardsTotal,
        shardsDone: l.shardsDone,
        inputSha256: l.inputSha256,
        outputSha256: l.outputSha256,
        shards,
        seconds: l.startedAt && l.finishedAt ? (l.finishedAt.getTime() - l.startedAt.getTime()) / 1000 : null,
        startedAt: l.startedAt,
      };
    }),
  };
}
