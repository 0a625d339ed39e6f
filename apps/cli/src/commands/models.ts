/**
 * `cmbn models list|show|search|alias|history|pull|delete|gc`: against the local registry
 * (DATABASE_URL, else the embedded Postgres under CMBN_HOME), or with `--remote URL [--token T]`
 * against a coordinator's `/v1/models` API. Both give the contract's shapes (@cmbn/api): local
 * records pass through the same JSON and schemas as the API's answers, so `--json` prints the same.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { z } from 'zod';
import {
  SEARCH_METRICS,
  ZAliasHistory,
  ZAliasMove,
  ZDeletedAlias,
  ZDeletedVersion,
  ZGcResult,
  ZModelDetail,
  ZModelList,
  ZVersionSearchPage,
  type TAliasHistory,
  type TAliasMove,
  type TDeletedAlias,
  type TDeletedVersion,
  type TGcResult,
  type TModelDetail,
  type TModelVersion,
  type TRegisteredModel,
  type TVersionSearchPage,
} from '@cmbn/api';
import { ApiClient } from '../api-client.ts';
import { isStudentDir } from '@cmbn/distill';
import {
  aliasHistory,
  deleteAlias,
  deleteVersionAndArtifacts,
  gcArtifacts,
  getModel,
  listModels,
  rollbackAlias,
  searchVersions,
  setAlias,
  type VersionSearch,
} from '@cmbn/registry';
import { openLocalRegistry, pullStudent, unpackEntries, type PulledStudent } from '@cmbn/pipeline';
import { CliError } from '../errors.ts';
import { printJson } from '../output.ts';
import { floatOption, intOption } from '../options.ts';

interface RemoteOptions {
  remote?: string;
  token?: string;
  json?: boolean;
}

const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/**
 * Downloads NAME | NAME@ALIAS | NAME:VERSION from a coordinator, refuses it unless its sha256
 * matches both the X-Artifact-Sha256 header and the registry's version record (and its length
 * both Content-Length and the record), then extracts it with the pipeline's archive reader into a
 * sibling staging directory and moves the files in: a refused pull writes nothing.
 */
export async function pullRemoteStudent(client: ApiClient, ref: string, out: string, force = false): Promise<PulledStudent> {
  const outDir = resolve(out);
  if (!force) {
    const existing = await readdir(outDir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    });
    if (existing.length > 0) throw new CliError(`${outDir} is not empty; choose another --out or pass --force to replace its files`);
  }
  const res = await client.request(`/v1/models/${encodeURIComponent(ref)}/artifact`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  const header = res.headers.get('x-artifact-sha256');
  const label = res.headers.get('x-model-version') ?? ref;
  const m = /^(.+):(\d+)$/.exec(label);
  if (!header || !m) throw new Error(`refusing to pull ${ref}: the server sent no X-Artifact-Sha256 / X-Model-Version header`);
  const record = await client.json<TModelVersion>(`/v1/models/${encodeURIComponent(m[1]!)}/versions/${m[2]}`);
  const actual = sha256Hex(bytes);
  if (actual !== header || actual !== record.artifactSha256) {
    throw new Error(
      `refusing to pull ${label}: artifact sha256 mismatch (downloaded bytes hash to ${actual}, X-Artifact-Sha256 says ${header}, ` +
        `the registry recorded ${record.artifactSha256}); the artifact was modified or corrupted`,
    );
  }
  const length = Number(res.headers.get('content-length') ?? NaN);
  if ((Number.isFinite(length) && length !== bytes.byteLength) || (record.artifactBytes !== null && record.artifactBytes !== bytes.byteLength)) {
    throw new Error(`refusing to pull ${label}: ${bytes.byteLength} bytes received, Content-Length ${length}, registry recorded ${record.artifactBytes}`);
  }
  const entries = unpackEntries(bytes);
  const staging = join(dirname(outDir), `.cmbn-pull-${process.pid}-${Date.now()}`);
  await mkdir(staging, { recursive: true });
  try {
    for (const e of entries) await writeFile(join(staging, e.name), e.data);
    if (!(await isStudentDir(staging))) throw new Error(`refusing to pull ${label}: the archive is not a student directory`);
    await mkdir(outDir, { recursive: true });
    for (const e of entries) await rename(join(staging, e.name), join(outDir, e.name));
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return { name: record.modelName, version: record.version, artifactSha256: actual, artifactBytes: bytes.byteLength, dir: outDir, files: entries.map((e) => e.name) };
}

/** The registry operations of the commands, local (Prisma) or remote (HTTP), in the contract's shapes. */
interface ModelsBackend {
  list(): Promise<TRegisteredModel[]>;
  show(name: string): Promise<TModelDetail>;
  search(q: VersionSearch): Promise<TVersionSearchPage>;
  alias(name: string, alias: string, version: number): Promise<TAliasMove>;
  rollback(name: string, alias: string): Promise<TAliasMove>;
  unalias(name: string, alias: string): Promise<TDeletedAlias>;
  history(name: string, alias: string): Promise<TAliasHistory>;
  pull(ref: string, out: string, force: boolean): Promise<PulledStudent>;
  remove(name: string, version: number): Promise<TDeletedVersion>;
  gc(graceSeconds: number | undefined, dryRun: boolean, force: boolean): Promise<TGcResult>;
}

/** The search as the API's query string (`tag` repeats; metric bounds are min_<m> / max_<m>). */
function searchQuery(q: VersionSearch): string {
  const p = new URLSearchParams();
  for (const t of q.tags ?? []) p.append('tag', t);
  if (q.alias !== undefined) p.set('alias', q.alias);
  if (q.status !== undefined) p.set('status', q.status);
  for (const m of q.metrics ?? []) {
    if (m.min !== undefined) p.set(`min_${m.name}`, String(m.min));
    if (m.max !== undefined) p.set(`max_${m.name}`, String(m.max));
  }
  if (q.createdAfter !== undefined) p.set('created_after', q.createdAfter.toISOString());
  if (q.createdBefore !== undefined) p.set('created_before', q.createdBefore.toISOString());
  if (q.pageSize !== undefined) p.set('page_size', String(q.pageSize));
  if (q.pageToken !== undefined) p.set('page_token', q.pageToken);
  return p.toString();
}

function remoteBackend(o: RemoteOptions & { remote: string }): ModelsBackend {
  const c = new ApiClient(o.remote, o.token ?? process.env.CMBN_API_TOKEN);
  const n = encodeURIComponent;
  const aliasPath = (name: string, alias: string) => `/v1/models/${n(name)}/aliases/${n(alias)}`;
  const send = (method: string, body: unknown) => ({ method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return {
    list: async () => (await c.json<{ models: TRegisteredModel[] }>('/v1/models')).models,
    show: (name) => c.json<TModelDetail>(`/v1/models/${n(name)}`),
    search: (q) => c.json<TVersionSearchPage>(`/v1/models/${n(q.name)}/versions?${searchQuery(q)}`),
    alias: (name, alias, version) => c.json<TAliasMove>(aliasPath(name, alias), send('PUT', { version })),
    rollback: (name, alias) => c.json<TAliasMove>(`${aliasPath(name, alias)}/rollback`, { method: 'POST' }),
    unalias: (name, alias) => c.json<TDeletedAlias>(aliasPath(name, alias), { method: 'DELETE' }),
    history: (name, alias) => c.json<TAliasHistory>(`${aliasPath(name, alias)}/history`),
    pull: (ref, out, force) => pullRemoteStudent(c, ref, out, force),
    remove: (name, version) => c.json<TDeletedVersion>(`/v1/models/${n(name)}/versions/${version}`, { method: 'DELETE' }),
    gc: (graceSeconds, dryRun) => c.json<TGcResult>('/v1/gc', send('POST', { ...(graceSeconds !== undefined ? { graceSeconds } : {}), dryRun })),
  };
}

/**
 * A sweep deletes whatever the registry it reads does not reference, so a store swept against the
 * wrong database loses everything (CMBN_ARTIFACTS=s3://… with DATABASE_URL unset sweeps the shared
 * bucket against an empty embedded Postgres). A local sweep is therefore allowed only on a file://
 * store; a shared one is swept through the coordinator that owns it (--remote), or with --force by
 * an operator who vouches that this database is that store's registry.
 */
function refuseSharedStoreSweep(storeUrl: string, registryUrl: string, dryRun: boolean, force: boolean): void {
  if (dryRun || force || storeUrl.startsWith('file:')) return;
  const db = registryUrl.replace(/\/\/[^@/]*@/, '//');
  throw new CliError(
    `refusing to sweep ${storeUrl} against the local registry (${db}): a store shared with a coordinator must be swept by it ` +
      '(cmbn models gc --remote URL); pass --force only if this database is the registry of that store',
  );
}

/** A local record as the API would have sent it: the same JSON (ISO timestamps), parsed by the same schema. */
const asContract = <S extends z.ZodType>(schema: S, value: unknown): z.infer<S> => schema.parse(JSON.parse(JSON.stringify(value)));

async function withRegistry<T>(o: RemoteOptions, fn: (b: ModelsBackend) => Promise<T>): Promise<T> {
  if (o.remote !== undefined) return fn(remoteBackend({ ...o, remote: o.remote }));
  const reg = await openLocalRegistry();
  // Moves made through the local registry are recorded as the principal `local`.
  const actor = { principal: 'local' };
  try {
    return await fn({
      list: async () => asContract(ZModelList, { models: await listModels() }).models,
      show: async (name) => asContract(ZModelDetail, await getModel(name)),
      search: async (q) => asContract(ZVersionSearchPage, await searchVersions(q)),
      alias: async (name, alias, version) => asContract(ZAliasMove, await setAlias(name, alias, version, actor)),
      rollback: async (name, alias) => asContract(ZAliasMove, await rollbackAlias(name, alias, actor)),
      unalias: async (name, alias) => asContract(ZDeletedAlias, { name, alias, deleted: true, event: await deleteAlias(name, alias, actor) }),
      history: async (name, alias) => {
        const h = await aliasHistory(name, alias);
        return asContract(ZAliasHistory, { name, alias, current: h.current, events: h.events });
      },
      pull: (ref, out, force) => pullStudent({ ref, outDir: out, store: reg.store, force }),
      remove: async (name, version) => asContract(ZDeletedVersion, { ...(await deleteVersionAndArtifacts(name, version, reg.store)), deleted: true }),
      gc: async (graceSeconds, dryRun, force) => {
        refuseSharedStoreSweep(reg.store.url, reg.url, dryRun, force);
        return asContract(ZGcResult, await gcArtifacts(reg.store, { ...(graceSeconds !== undefined ? { graceMs: graceSeconds * 1000 } : {}), dryRun }));
      },
    });
  } finally {
    await reg.close();
  }
}

const withRemote = (cmd: Command): Command =>
  cmd
    .option('--remote <url>', "a coordinator's URL: use its /v1/models API instead of the local registry")
    .option('--token <token>', 'API token for --remote (default $CMBN_API_TOKEN)')
    .option('--json', 'print exactly one JSON object on stdout');

function out(o: RemoteOptions, json: unknown, text: string): void {
  if (o.json) printJson(json);
  else process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

const metricText = (m: unknown): string => {
  if (typeof m !== 'object' || m === null) return '';
  const r = m as Record<string, unknown>;
  return ['agreement', 'acc', 'nmi', 'speedup']
    .filter((k) => typeof r[k] === 'number')
    .map((k) => `${k}=${r[k] as number}`)
    .join(' ');
};

export function addModelsCommand(program: Command): void {
  const models = program.command('models').description('the model registry: registered students, their versions and aliases');

  withRemote(models.command('list').description('registered models with their latest version and aliases')).action(async (o: RemoteOptions) =>
    withRegistry(o, async (b) => {
      const list = await b.list();
      const lines = list.map((m) => {
        const aliases = Object.entries(m.aliases).map(([a, v]) => `@${a}→${v}`);
        return `${m.name}\tlatest ${m.latestVersion}${aliases.length ? `\t${aliases.join(' ')}` : ''}`;
      });
      out(o, { models: list }, lines.length ? lines.join('\n') : '(no registered models)');
    }),
  );

  withRemote(models.command('show').argument('<name>').description("a model's versions: status, metrics, lineage")).action(
    async (name: string, o: RemoteOptions) =>
      withRegistry(o, async (b) => {
        const m = await b.show(name);
        const byVersion = new Map<number, string[]>();
        for (const [a, v] of Object.entries(m.aliases)) byVersion.set(v, [...(byVersion.get(v) ?? []), `@${a}`]);
        const lines = [`${m.name} (latest ${m.latestVersion})`];
        for (const v of m.versions) {
          lines.push(
            `  ${v.version}\t${v.status}\t${metricText(v.metrics)}\tbackend ${v.backend}\tmbn ${v.mbnModelHash.slice(0, 12)}` +
              `${v.artifactSha256 ? `\tsha256 ${v.artifactSha256.slice(0, 12)}` : ''}${byVersion.has(v.version) ? `\t${byVersion.get(v.version)!.join(' ')}` : ''}`,
          );
        }
        out(o, m, lines.join('\n'));
      }),
  );

  withRemote(
    models
      .command('alias')
      .argument('<name>')
      .argument('<alias>')
      .argument('[version]', 'a READY version number', intOption('VERSION', 1))
      .option('--rollback', 'move ALIAS back to the version it pointed at before its latest move')
      .option('--delete', 'remove ALIAS (its history stays)')
      .description('point ALIAS (e.g. champion) at VERSION, creating or moving it; every move is recorded (`models history`)'),
  ).action(async (name: string, alias: string, version: number | undefined, o: RemoteOptions & { rollback?: boolean; delete?: boolean }) => {
    const modes = [version !== undefined, o.rollback === true, o.delete === true].filter(Boolean).length;
    if (modes !== 1) throw new CliError('models alias: give exactly one of VERSION, --rollback or --delete');
    return withRegistry(o, async (b) => {
      if (o.delete) {
        const d = await b.unalias(name, alias);
        return out(o, d, `removed ${name}@${alias} (was ${d.event.previousVersion})`);
      }
      const m = o.rollback ? await b.rollback(name, alias) : await b.alias(name, alias, version!);
      out(o, m, `${name}@${alias} → ${m.version}${m.previousVersion !== null ? ` (was ${m.previousVersion})` : ''}`);
    });
  });

  withRemote(models.command('history').argument('<name>').argument('<alias>').description("an alias' moves, newest first: when, who, from which version to which")).action(
    async (name: string, alias: string, o: RemoteOptions) =>
      withRegistry(o, async (b) => {
        const h = await b.history(name, alias);
        const lines = [`${name}@${alias} → ${h.current ?? '(deleted)'}`];
        for (const e of h.events) lines.push(`  ${e.at}\t${e.action}\t${e.previousVersion ?? '-'} → ${e.version ?? '-'}\tby ${e.principal}`);
        out(o, h, lines.join('\n'));
      }),
  );

  const collect = (v: string, prev: string[] = []) => [...prev, v];
  const date = (name: string) => (v: string) => {
    const d = new Date(v);
    if (Number.isNaN(d.getTime())) throw new CliError(`${name} must be an ISO date or time (2026-12-01 or 2026-12-01T12:00:00Z), got "${v}"`);
    return d;
  };
  const search = withRemote(
    models
      .command('search')
      .argument('<name>')
      .option('--tag <key[=value]>', 'only versions with this tag (or tag value); repeatable, all must match', collect)
      .option('--alias <alias>', 'only the version this alias points at')
      .option('--status <status>', 'PENDING, READY or FAILED')
      .option('--created-after <time>', 'created at or after this time', date('--created-after'))
      .option('--created-before <time>', 'created before this time', date('--created-before'))
      .option('--page-size <n>', 'versions per page (1-200, default 50)', intOption('--page-size', 1))
      .option('--page-token <token>', "the previous page's nextPageToken")
      .option('--all', 'follow nextPageToken to the last page')
      .description("search a model's versions (newest first) by tag, alias, status, metric range and creation time"),
  );
  for (const m of SEARCH_METRICS) {
    search.option(`--min-${m.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} <x>`, `${m} ≥ x`, floatOption(`--min-${m}`));
    search.option(`--max-${m.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} <x>`, `${m} ≤ x`, floatOption(`--max-${m}`));
  }
  search.action(async (name: string, o: RemoteOptions & Record<string, unknown>) =>
    withRegistry(o, async (b) => {
      const cap = (m: string) => m[0]!.toUpperCase() + m.slice(1);
      const q: VersionSearch = {
        name,
        ...(o.tag !== undefined ? { tags: o.tag as string[] } : {}),
        ...(o.alias !== undefined ? { alias: o.alias as string } : {}),
        ...(o.status !== undefined ? { status: String(o.status).toUpperCase() as VersionSearch['status'] } : {}),
        metrics: SEARCH_METRICS.flatMap((m) => {
          const min = o[`min${cap(m)}`] as number | undefined;
          const max = o[`max${cap(m)}`] as number | undefined;
          return min === undefined && max === undefined ? [] : [{ name: m, ...(min !== undefined ? { min } : {}), ...(max !== undefined ? { max } : {}) }];
        }),
        ...(o.createdAfter !== undefined ? { createdAfter: o.createdAfter as Date } : {}),
        ...(o.createdBefore !== undefined ? { createdBefore: o.createdBefore as Date } : {}),
        ...(o.pageSize !== undefined ? { pageSize: o.pageSize as number } : {}),
        ...(o.pageToken !== undefined ? { pageToken: o.pageToken as string } : {}),
      };
      let page = await b.search(q);
      const versions = [...page.versions];
      while (o.all === true && page.nextPageToken !== null) {
        page = await b.search({ ...q, pageToken: page.nextPageToken });
        versions.push(...page.versions);
      }
      const lines = versions.map(
        (v) => `${v.version}\t${v.status}\t${metricText(v.metrics)}\t${v.createdAt}${v.aliases.length ? `\t${v.aliases.map((a) => `@${a}`).join(' ')}` : ''}`,
      );
      if (page.nextPageToken !== null) lines.push(`(more: --page-token ${page.nextPageToken}, or --all)`);
      out(o, { versions, nextPageToken: page.nextPageToken }, lines.length ? lines.join('\n') : '(no matching versions)');
    }),
  );

  withRemote(
    models
      .command('pull')
      .argument('<ref>', 'NAME (latest READY), NAME@ALIAS or NAME:VERSION')
      .requiredOption('--out <dir>', 'directory to extract the student into')
      .option('--force', 'replace the files of a non-empty --out directory')
      .description("download a student's archive, verify its sha256 against the registry, and extract it"),
  ).action(async (ref: string, o: RemoteOptions & { out: string; force?: boolean }) =>
    withRegistry(o, async (b) => {
      const p = await b.pull(ref, o.out, o.force === true);
      out(o, p, `pulled ${p.name}:${p.version} (sha256 ${p.artifactSha256} verified) into ${p.dir}`);
    }),
  );

  withRemote(
    models
      .command('delete')
      .argument('<name>')
      .argument('<version>', 'version number', intOption('VERSION', 1))
      .description('delete a version (refused while an alias points at it) and the artifact objects nothing else references'),
  ).action(async (name: string, version: number, o: RemoteOptions) =>
    withRegistry(o, async (b) => {
      const d = await b.remove(name, version);
      const later =
        d.artifacts.deferred > 0
          ? `; ${d.artifacts.deferred} left for a later \`cmbn models gc\` (a version is PENDING, or the object was written within the grace period)`
          : '';
      out(o, d, `deleted ${name}:${version} and ${d.artifacts.deleted.length} artifact object(s) only it referenced${later}`);
    }),
  );

  withRemote(
    models
      .command('gc')
      .option('--grace <seconds>', 'keep unreferenced objects written less than this long ago (default 3600; below 300 only while no run is active and no version PENDING)', intOption('--grace', 0))
      .option('--dry-run', 'list the orphans, delete nothing')
      .option('--force', 'local registry only: sweep a non-file:// store (only if this database is its registry)')
      .description('delete artifact objects that no version, run or dataset references (and finish interrupted deletions)'),
  ).action(async (o: RemoteOptions & { grace?: number; dryRun?: boolean; force?: boolean }) =>
    withRegistry(o, async (b) => {
      const g = await b.gc(o.grace, o.dryRun === true, o.force === true);
      const what = g.dryRun ? `would delete ${g.orphans.length}` : `deleted ${g.deleted.length}`;
      const later = g.deferred > 0 ? `, ${g.deferred} deferred (a version is PENDING, or the object was re-put within the grace period)` : '';
      out(o, g, `${g.store}: ${g.scanned} objects, ${g.referenced} referenced, ${g.young} unreferenced but younger than the grace period; ${what} orphan(s)${later}`);
    }),
  );
}
