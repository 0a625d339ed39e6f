import { describe, expect, it } from 'vitest';
import { versionFromWire, versionToWire, ZModelVersion, type ModelVersionFields } from './models.ts';

const record: ModelVersionFields = {
  id: 'v1',
  modelName: 'digits',
  version: 3,
  status: 'READY',
  artifactSha256: 'a'.repeat(64),
  artifactBytes: 1234,
  metrics: { agreement: 0.95 },
  signature: { inputDims: 784 },
  runId: null,
  datasetSha256: 'b'.repeat(64),
  mbnModelHash: 'c'.repeat(64),
  params: { V: 100 },
  backend: 'wasm',
  tags: {},
  idempotencyKey: null,
  createdAt: new Date('2026-12-01T20:00:00.000Z'),
  readyAt: null,
};

describe('the model version field table', () => {
  it('record → view → record is the identity; the view is valid under ZModelVersion with ISO timestamps', () => {
    const view = versionToWire(record);
    expect(ZModelVersion.parse(view)).toEqual(view);
    expect(view.createdAt).toBe('2026-12-01T20:00:00.000Z');
    expect(versionFromWire(view)).toEqual(record);
    const ready = { ...record, readyAt: new Date('2026-12-01T20:01:00.000Z') };
    expect(versionFromWire(versionToWire(ready))).toEqual(ready);
  });

  it('carries exactly the contract fields: extras on either side are left out, a stored non-object JSON reads as {}', () => {
    const view = versionToWire({ ...record, aliases: ['prod'], internal: 1 } as ModelVersionFields);
    expect(Object.keys(view).sort()).toEqual(Object.keys(ZModelVersion.shape).sort());
    expect(Object.keys(versionFromWire({ ...view, aliases: ['prod'] } as typeof view)).sort()).toEqual(Object.keys(record).sort());
    expect(versionToWire({ ...record, metrics: null, tags: [1, 2] })).toMatchObject({ metrics: {}, tags: {} });
  });
});
