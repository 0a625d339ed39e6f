import { describe, expect, it } from 'vitest';
import {
  decodeCodeNpy,
  decodeTeacherEmbedding,
  decodeTeacherLabels,
  distillJobId,
  encodeTeacherEmbedding,
  encodeTeacherLabels,
  parseDistillJobId,
  encodeCodeNpy,
  jobCatalog,
  jobOptions,
  layerJobId,
  parseLayerJobId,
  parsePayload,
  parseResult,
  parseShardJobId,
  shardJobId,
  PayloadError,
  type HandlersFor,
  type JobKind,
} from './index.ts';

const SHA = 'a'.repeat(64);

describe('job catalog', () => {
  it('validates shard payloads and refuses bulk or malformed data', () => {
    const ok = {
      runId: 'r1',
      layer: 1,
      index: 0,
      spec: { layer: 1, v0: 0, v1: 2, k: 5, seed: 0, a: 0.5, kernel: 'euclidean' },
      input: { kind: 'dense', sha256: SHA, rows: 10, cols: 4 },
    };
    expect(parsePayload('shard', ok).spec.v1).toBe(2);
    expect(() => parsePayload('shard', { ...ok, input: { ...ok.input, sha256: 'nope' } })).toThrow(/sha256/);
    expect(() => parsePayload('shard', { ...ok, spec: { ...ok.spec, a: 0 } })).toThrow(/spec.a/);
  });

  it('validates distill payloads: references only, a strict student spec', () => {
    const ok = {
      runId: 'r1',
      datasetSha256: SHA,
      mbnModelSha256: SHA,
      modelHash: SHA,
      teacher: { labelsSha256: SHA, embeddingSha256: SHA, rows: 600, c: 10 },
      params: { register: 'mnist', student: { hidden: [32], epochs: 3 }, eval: { datasetSha256: SHA }, mbnParams: { V: 12 } },
    };
    const p = parsePayload('distill', ok);
    expect(p.params.eval?.name).toBe('eval');
    expect(p.datasetName).toBe('dataset');
    // A payload queued by a coordinator before the field went still parses, without it.
    expect(parsePayload('distill', { ...ok, idempotencyKey: 'run:r1' })).not.toHaveProperty('idempotencyKey');
    expect(() => parsePayload('distill', { ...ok, params: { ...ok.params, student: { hidden: [0] } } })).toThrow(/params.student.hidden/);
    expect(() => parsePayload('distill', { ...ok, params: { ...ok.params, student: { layers: 3 } } })).toThrow(/layers|Unrecognized/);
    expect(jobOptions('distill')).toEqual({ attempts: 2, backoff: { type: 'exponential', delay: 10_000 } });
    expect(parseDistillJobId(distillJobId('run-1'))).toEqual({ runId: 'run-1' });
  });

  it('gives every kind a retry policy and a timeout', () => {
    for (const def of Object.values(jobCatalog)) {
      expect(def.retry.attempts).toBeGreaterThanOrEqual(1);
      expect(def.timeoutMs).toBeGreaterThan(0);
    }
    expect(jobOptions('shard')).toEqual({ attempts: 4, backoff: { type: 'exponential', delay: 1000 } });
  });

  it('types the handler map per runner: the compiler asks for every kind, and what a handler returns is its result schema', async () => {
    // Compile-time checks (vitest runs no type checker; `npm run typecheck`, which .ci/run runs over the
    // test files too, fails if any of the @ts-expect-error lines compiles).
    // @ts-expect-error the worker must handle 'shard'
    const _missing: HandlersFor<'worker'> = {};
    // @ts-expect-error the worker must handle 'distill' too
    const _shardOnly: HandlersFor<'worker'> = { shard: async () => ({ sha256: SHA, rows: 1, cols: 1, seconds: 0, workerId: 'w', backend: 'js', finishedAt: 0 }) };
    // @ts-expect-error the coordinator must handle 'gc' too
    const _layerOnly: HandlersFor<'coordinator'> = { layer: async () => ({ outputSha256: SHA }) };
    const full: HandlersFor<'coordinator'> = {
      layer: async () => ({ outputSha256: SHA }),
      gc: async () => ({ store: 'file:///x', scanned: 0, referenced: 0, young: 0, orphans: [], deleted: [], deferred: 0, dryRun: true }),
    };
    // At run time: a handler typed by the map returns what the catalog's result schema accepts.
    const ctx = {} as never;
    expect(parseResult('layer', await full.layer({ runId: 'r1', layer: 1 }, ctx))).toEqual({ outputSha256: SHA });
    expect(parseResult('gc', await full.gc({} as never, ctx))).toMatchObject({ store: 'file:///x', dryRun: true });
    expect(() => parseResult('layer', { outputSha256: 'not a digest' })).toThrow(/layer job result is invalid: outputSha256/);
  });

  it('gives every kind a payload schema that accepts a valid payload and rejects a malformed one, and jobOptions from its retry policy', () => {
    const valid: { [K in JobKind]: unknown } = {
      shard: {
        runId: 'r1',
        layer: 2,
        index: 3,
        spec: { layer: 2, v0: 0, v1: 2, k: 5, seed: 0, a: 0.5, kernel: 'linear' },
        input: { kind: 'code', sha256: SHA, rows: 10, V: 4, k: 3 },
      },
      layer: { runId: 'r1', layer: 1 },
      distill: {
        runId: 'r1',
        datasetSha256: SHA,
        mbnModelSha256: SHA,
        modelHash: SHA,
        params: { mbnParams: {} },
      },
      gc: { graceSeconds: 0, dryRun: true, principal: 'alice' },
    };
    for (const kind of Object.keys(jobCatalog) as JobKind[]) {
      expect(() => parsePayload(kind, valid[kind])).not.toThrow();
      for (const bad of [null, {}, { ...(valid[kind] as object), runId: 7 }, { ...(valid[kind] as object), layer: 0 }]) {
        if (kind === 'distill' && (bad as { layer?: number } | null)?.layer === 0) continue; // distill has no layer
        expect(() => parsePayload(kind, bad), `${kind} ${JSON.stringify(bad)}`).toThrow(PayloadError);
      }
      const { retry } = jobCatalog[kind];
      expect(jobOptions(kind)).toEqual({ attempts: retry.attempts, backoff: retry.backoff });
      // A copy: a caller mutating its options does not change the catalog.
      expect(jobOptions(kind).backoff).not.toBe(retry.backoff);
    }
  });

  it('makes deterministic job ids that BullMQ accepts and that parse back', () => {
    expect(shardJobId('run-1', 2, 7)).toBe('run-1:2:7');
    expect(parseShardJobId('run-1:2:7')).toEqual({ runId: 'run-1', layer: 2, index: 7 });
    expect(parseLayerJobId(layerJobId('run-1', 3))).toEqual({ runId: 'run-1', layer: 3 });
    expect(() => shardJobId('a:b', 1, 1)).toThrow();
  });
});

describe('teacher npy', () => {
  it('round-trips MBN labels and embedding exactly and checks the shape', () => {
    const labels = Int32Array.from([3, 0, 9, 1]);
    const emb = Float64Array.from({ length: 8 }, (_, i) => Math.PI * i - 1e-300);
    expect(Array.from(decodeTeacherLabels(encodeTeacherLabels(labels), 'l', 4))).toEqual(Array.from(labels));
    expect(Array.from(decodeTeacherEmbedding(encodeTeacherEmbedding(emb, 4, 2), 'e', 4, 2))).toEqual(Array.from(emb));
    expect(() => decodeTeacherEmbedding(encodeTeacherEmbedding(emb, 4, 2), 'e', 2, 4)).toThrow(/shape 4×2, expected 2×4/);
    expect(() => decodeTeacherLabels(encodeTeacherEmbedding(emb, 4, 2), 'l', 4)).toThrow(/'<i4'/);
  });
});

describe('code npy', () => {
  it('round-trips a uint16 block and checks the shape', () => {
    const ids = Uint16Array.from({ length: 12 }, (_, i) => i * 5000);
    const bytes = encodeCodeNpy(ids, 3, 4);
    const back = decodeCodeNpy(bytes, 'x', { rows: 3, cols: 4 });
    expect(Array.from(back.ids)).toEqual(Array.from(ids));
    expect(() => decodeCodeNpy(bytes, 'x', { rows: 4, cols: 3 })).toThrow(/shape 3×4/);
    expect(() => decodeCodeNpy(bytes.subarray(0, bytes.length - 1), 'x')).toThrow(/data bytes/);
  });
});
