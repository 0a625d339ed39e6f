import { describe, expect, it } from 'vitest';
import {
  RegistryError,
  createModelVersion,
  deleteVersion,
  getModel,
  getVersion,
  listModels,
  markVersionFailed,
  markVersionReady,
  resolveModelRef,
  setAlias,
} from './index.ts';
import type { CreateModelVersionInput } from './index.ts';
import { useTestDatabase } from './test-helpers.ts';

useTestDatabase();

const SHA = (c: string): string => c.repeat(64);

function input(name: string, extra: Partial<CreateModelVersionInput> = {}): CreateModelVersionInput {
  return {
    name,
    metrics: { acc: 0.97 },
    signature: { input: { dtype: 'float32', shape: [-1, 784] }, output: { classes: 10 } },
    datasetSha256: SHA('d'),
    mbnModelHash: SHA('e'),
    params: { V: 400 },
    backend: 'wasm',
    ...extra,
  };
}

async function expectCode(p: Promise<unknown>, code: RegistryError['code']): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RegistryError);
  expect((err as RegistryError).code).toBe(code);
}

describe('model registry', () => {
  it('8 concurrent registrations under one name get versions 1..8', async () => {
    const vs = await Promise.all(Array.from({ length: 8 }, () => createModelVersion(input('mnist'))));
    expect(vs.map((v) => v.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(vs.every((v) => v.status === 'PENDING')).toBe(true);
    const m = await getModel('mnist');
    expect(m.latestVersion).toBe(8);
    expect(m.versions).toHaveLength(8);
  });

  it('a retried registration with the same idempotencyKey returns the same version', async () => {
    const first = await createModelVersion(input('idem', { idempotencyKey: 'run-1/distill' }));
    const again = await createModelVersion(input('idem', { idempotencyKey: 'run-1/distill' }));
    expect(again.id).toBe(first.id);
    expect(again.version).toBe(1);
    // Concurrent retries also collapse onto one version.
    const racing = await Promise.all(Array.from({ length: 5 }, () => createModelVersion(input('idem', { idempotencyKey: 'run-2/distill' }))));
    expect(new Set(racing.map((v) => v.id)).size).toBe(1);
    expect((await getModel('idem')).versions).toHaveLength(2);
    await expectCode(createModelVersion(input('other', { idempotencyKey: 'run-1/distill' })), 'CONFLICT');
  });

  it('READY versions are immutable', async () => {
    const v = await createModelVersion(input('immut'));
    const ready = await markVersionReady(v.id, { artifactSha256: SHA('a'), artifactBytes: 1234n });
    expect(ready.status).toBe('READY');
    expect(ready.artifactBytes).toBe(1234);
    expect(ready.readyAt).toBeInstanceOf(Date);
    await expectCode(markVersionReady(v.id, { artifactSha256: SHA('b'), artifactBytes: 1 }), 'IMMUTABLE');
    await expectCode(markVersionFailed(v.id, 'late failure'), 'IMMUTABLE');
    expect((await getVersion('immut', 1)).artifactSha256).toBe(SHA('a'));

    const f = await createModelVersion(input('immut'));
    const failed = await markVersionFailed(f.id, 'oom');
    expect(failed.status).toBe('FAILED');
    expect(failed.tags).toEqual({ error: 'oom' });
    await expectCode(markVersionReady(f.id, { artifactSha256: SHA('c'), artifactBytes: 1 }), 'CONFLICT');
    await expectCode(markVersionReady('00000000-0000-0000-0000-000000000000', { artifactSha256: SHA('c'), artifactBytes: 1 }), 'NOT_FOUND');
  });

  it('aliases move, resolve, and block deletion', async () => {
    const v1 = await createModelVersion(input('alias'));
    const v2 = await createModelVersion(input('alias'));
    const v3 = await createModelVersion(input('alias'));
    await markVersionReady(v1.id, { artifactSha256: SHA('1'), artifactBytes: 10 });
    await markVersionReady(v2.id, { artifactSha256: SHA('2'), artifactBytes: 20 });

    await expectCode(setAlias('alias', 'prod', 3), 'CONFLICT'); // v3 is PENDING
    await expectCode(setAlias('alias', 'prod', 9), 'NOT_FOUND');
    await expectCode(setAlias('alias', '7', 1), 'INVALID');

    await setAlias('alias', 'prod', 1);
    expect((await resolveModelRef('alias@prod')).version).toBe(1);
    await setAlias('alias', 'prod', 2);
    expect((await resolveModelRef('alias@prod')).version).toBe(2);
    expect((await resolveModelRef('alias:1')).id).toBe(v1.id);
    // Bare name → the highest READY version (v3 is still PENDING).
    expect((await resolveModelRef('alias')).version).toBe(2);
    await expectCode(resolveModelRef('alias:3'), 'CONFLICT');
    await expectCode(resolveModelRef('alias@staging'), 'NOT_FOUND');
    await expectCode(resolveModelRef('nope'), 'NOT_FOUND');
    await expectCode(resolveModelRef('bad name'), 'INVALID');

    const m = await getModel('alias');
    expect(m.aliases).toEqual({ prod: 2 });
    expect((await listModels()).find((x) => x.name === 'alias')?.aliases).toEqual({ prod: 2 });

    await expectCode(deleteVersion('alias', 2), 'ALIAS_IN_USE');
    await deleteVersion('alias', 1); // no longer aliased
    await expectCode(getVersion('alias', 1), 'NOT_FOUND');
    await setAlias('alias', 'prod', 2);
    expect((await getModel('alias')).versions.map((v) => v.version)).toEqual([2, 3]);
    // Numbers are never reused after a delete.
    expect((await createModelVersion(input('alias'))).version).toBe(4);
    void v3;
  });

  it('RegistryError carries a stable code and no HTTP status (the API edge maps codes)', () => {
    const e = new RegistryError('NOT_FOUND', 'x');
    expect(e.code).toBe('NOT_FOUND');
    expect(new RegistryError('IMMUTABLE', 'x').code).toBe('IMMUTABLE');
    expect(new RegistryError('INVALID', 'x').code).toBe('INVALID');
    expect('httpStatus' in e).toBe(false);
  });

  it('a retry after a FAILED version registers a fresh version; the failed one keeps its history', async () => {
    const first = await createModelVersion(input('retry', { idempotencyKey: 'run:r1' }));
    await markVersionFailed(first.id, 'worker lost');
    const again = await createModelVersion(input('retry', { idempotencyKey: 'run:r1' }));
    expect(again.id).not.toBe(first.id);
    expect(again).toMatchObject({ version: 2, status: 'PENDING', idempotencyKey: 'run:r1' });
    // Later retries of the same attempt find the fresh version, not another one.
    expect((await createModelVersion(input('retry', { idempotencyKey: 'run:r1' }))).id).toBe(again.id);
    const old = await getVersion('retry', 1);
    expect(old).toMatchObject({ status: 'FAILED', idempotencyKey: null, tags: { error: 'worker lost', supersededIdempotencyKey: 'run:r1' } });
    // Concurrent retries after a failure still collapse onto one fresh version.
    await markVersionFailed(again.id, 'again');
    const racing = await Promise.all(Array.from({ length: 4 }, () => createModelVersion(input('retry', { idempotencyKey: 'run:r1' }))));
    expect(new Set(racing.map((v) => v.id)).size).toBe(1);
    expect(racing[0]!.version).toBe(3);
  });
});
