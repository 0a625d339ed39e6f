import { describe, expect, it } from 'vitest';
import {
  RegistryError,
  aliasHistory,
  createModelVersion,
  deleteAlias,
  deleteVersion,
  markVersionReady,
  resolveModelRef,
  rollbackAlias,
  searchVersions,
  setAlias,
} from './index.ts';
import type { CreateModelVersionInput } from './index.ts';
import { useTestDatabase } from './test-helpers.ts';

useTestDatabase();

const SHA = (i: number): string => i.toString(16).padStart(64, '0');

function input(name: string, extra: Partial<CreateModelVersionInput> = {}): CreateModelVersionInput {
  return { name, metrics: {}, signature: {}, datasetSha256: SHA(0xd), mbnModelHash: SHA(0xe), params: {}, backend: 'wasm', ...extra };
}

async function ready(name: string, i: number, extra: Partial<CreateModelVersionInput> = {}) {
  const v = await createModelVersion(input(name, extra));
  return markVersionReady(v.id, { artifactSha256: SHA(1000 + i), artifactBytes: i });
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => (e instanceof RegistryError ? e.code : `not a RegistryError: ${String(e)}`),
  );
}

describe('alias history', () => {
  it('records who moved an alias, when, and from which version; rollback moves it back', async () => {
    for (let i = 1; i <= 3; i++) await ready('hist', i);
    const t0 = Date.now();
    const created = await setAlias('hist', 'prod', 1, { principal: 'alice' });
    expect(created).toMatchObject({ version: 1, previousVersion: null, event: { action: 'set', principal: 'alice' } });
    await setAlias('hist', 'prod', 2, { principal: 'bob' });
    await setAlias('hist', 'prod', 3); // local: no principal given
    const back = await rollbackAlias('hist', 'prod', { principal: 'carol' });
    expect(back).toMatchObject({ version: 2, previousVersion: 3, event: { action: 'rollback', principal: 'carol' } });
    expect((await resolveModelRef('hist@prod')).version).toBe(2);
    // A rollback is a move too: rolling back again returns to 3.
    expect((await rollbackAlias('hist', 'prod', { principal: 'carol' })).version).toBe(3);

    const h = await aliasHistory('hist', 'prod');
    expect(h.current).toBe(3);
    expect(h.events.map((e) => [e.action, e.previousVersion, e.version, e.principal])).toEqual([
      ['rollback', 2, 3, 'carol'],
      ['rollback', 3, 2, 'carol'],
      ['set', 2, 3, 'local'],
      ['set', 1, 2, 'bob'],
      ['set', null, 1, 'alice'],
    ]);
    for (const e of h.events) expect(e.at.getTime()).toBeGreaterThanOrEqual(t0 - 5_000);
    expect(new Set(h.events.map((e) => e.id)).size).toBe(5);
  });

  it('refuses a rollback with nowhere to go, and one onto a deleted version (CONFLICT)', async () => {
    await ready('rb', 1);
    await ready('rb', 2);
    await setAlias('rb', 'prod', 1);
    expect(await codeOf(rollbackAlias('rb', 'prod'))).toBe('CONFLICT'); // created at 1: no previous
    expect(await codeOf(rollbackAlias('rb', 'nope'))).toBe('NOT_FOUND');
    await setAlias('rb', 'prod', 2);
    await deleteVersion('rb', 1);
    expect(await codeOf(rollbackAlias('rb', 'prod'))).toBe('CONFLICT');
    expect((await resolveModelRef('rb@prod')).version).toBe(2);
  });

  it('a delete is recorded; the history outlives the alias', async () => {
    await ready('del', 1);
    await setAlias('del', 'staging', 1, { principal: 'ops' });
    const ev = await deleteAlias('del', 'staging', { principal: 'ops' });
    expect(ev).toMatchObject({ action: 'delete', version: null, previousVersion: 1 });
    const h = await aliasHistory('del', 'staging');
    expect(h.current).toBeNull();
    expect(h.events).toHaveLength(2);
    expect(await codeOf(aliasHistory('del', 'never'))).toBe('NOT_FOUND');
    expect(await codeOf(setAlias('del', 'x', 1, { principal: 'bad principal' }))).toBe('INVALID');
  });

  it('concurrent moves of one alias are serialised: each event names the version before it', async () => {
    for (let i = 1; i <= 6; i++) await ready('race', i);
    await Promise.all([1, 2, 3, 4, 5, 6].map((v) => setAlias('race', 'prod', v, { principal: `p${v}` })));
    const h = await aliasHistory('race', 'prod');
    const chron = [...h.events].reverse();
    expect(chron[0]!.previousVersion).toBeNull();
    for (let i = 1; i < chron.length; i++) expect(chron[i]!.previousVersion).toBe(chron[i - 1]!.version);
    expect(h.current).toBe(chron[chron.length - 1]!.version);
  });

  it('an alias move racing a version delete ends in a registry error, never a half state', async () => {
    for (let round = 0; round < 8; round++) {
      const name = `race-del-${round}`;
      await ready(name, 1);
      await ready(name, 2);
      const [moved, deleted] = await Promise.allSettled([setAlias(name, 'prod', 1), deleteVersion(name, 1)]);
      const codes = [moved, deleted].map((r) => (r.status === 'rejected' ? (r.reason as RegistryError).code ?? String(r.reason) : 'ok'));
      // Exactly one wins: the alias lands first (the delete is ALIAS_IN_USE), or the delete does (the move is CONFLICT).
      expect([['ok', 'ALIAS_IN_USE'], ['CONFLICT', 'ok']]).toContainEqual(codes);
      if (codes[0] === 'ok') expect((await resolveModelRef(`${name}@prod`)).version).toBe(1);
      else expect(await codeOf(resolveModelRef(`${name}@prod`))).toBe('NOT_FOUND');
    }
  });
});

describe('version search', () => {
  it('filters by tag, alias, status, metric range and creation time, and pages without repeats', async () => {
    const name = 'search';
    const made = [];
    for (let i = 1; i <= 12; i++) {
      const tags = { team: i % 2 ? 'vision' : 'speech', ...(i % 3 === 0 ? { candidate: true } : {}) };
      const metrics = { agreement: i / 10, acc: i % 4 === 0 ? 'n/a' : 0.8 };
      if (i === 12) made.push(await createModelVersion(input(name, { tags, metrics }))); // stays PENDING
      else made.push(await ready(name, i, { tags, metrics }));
    }
    await setAlias(name, 'champion', 7);
    const all = await searchVersions({ name });
    expect(all.versions.map((v) => v.version)).toEqual([12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    expect(all.nextPageToken).toBeNull();
    expect(all.versions.find((v) => v.version === 7)!.aliases).toEqual(['champion']);

    const v = async (q: Omit<Parameters<typeof searchVersions>[0], 'name'>) => (await searchVersions({ name, ...q })).versions.map((x) => x.version);
    expect(await v({ tags: ['team=vision'] })).toEqual([11, 9, 7, 5, 3, 1]);
    expect(await v({ tags: ['team=vision', 'candidate'] })).toEqual([9, 3]);
    expect(await v({ tags: ['candidate=true'] })).toEqual([12, 9, 6, 3]);
    expect(await v({ alias: 'champion' })).toEqual([7]);
    expect(await v({ status: 'PENDING' })).toEqual([12]);
    // agreement = i/10 (the same doubles as these literals): 0.8..1 is i = 8..10, inclusive at both ends.
    expect(await v({ metrics: [{ name: 'agreement', min: 0.8, max: 1 }] })).toEqual([10, 9, 8]);
    // acc is a string on every 4th version: those never match a numeric range, and nothing fails.
    expect(await v({ metrics: [{ name: 'acc', min: 0 }] })).toEqual([11, 10, 9, 7, 6, 5, 3, 2, 1]);
    expect(await v({ metrics: [{ name: 'missing', min: 0 }] })).toEqual([]);
    const cut = made[5]!.createdAt; // version 6
    expect(await v({ createdAfter: cut })).toEqual([12, 11, 10, 9, 8, 7, 6]);
    expect(await v({ createdBefore: cut })).toEqual([5, 4, 3, 2, 1]);

    const seen: number[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const p = await searchVersions({ name, tags: ['team=vision'], pageSize: 4, ...(token ? { pageToken: token } : {}) });
      seen.push(...p.versions.map((x) => x.version));
      token = p.nextPageToken ?? undefined;
      pages++;
      if (pages === 1) await ready(name, 99, { tags: { team: 'vision' } }); // registered mid-paging: not on a later page
    } while (token);
    expect(pages).toBe(2);
    expect(seen).toEqual([11, 9, 7, 5, 3, 1]);
    expect(await codeOf(searchVersions({ name, pageToken: 'garbage' }))).toBe('INVALID');
    expect(await codeOf(searchVersions({ name, pageSize: 0 }))).toBe('INVALID');
    expect(await codeOf(searchVersions({ name, metrics: [{ name: "x'; drop", min: 1 }] }))).toBe('INVALID');
  });
});
