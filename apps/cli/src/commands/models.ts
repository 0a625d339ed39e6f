/**
 * `cmbn models list|show|search|alias|history|pull|delete|gc`: against the local registry
 * (DATABASE_URL, else the embedded Postgres under CMBN_HOME), or with `--remote URL [--token T]`
 * against a coordinator's `/v1/models` API. Both are the one registry interface of @cmbn/pipeline
 * (createPrismaRegistry / httpRegistry), which answers in the same records and throws the same
 * errors; the records pass through the contract's JSON and schemas (@cmbn/api), so `--json` prints
 * the same either way.
 */
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
} from '@cmbn/api';
import type { ApiClient } from '../api-client.ts';
import type { VersionSearch } from '@cmbn/registry';
import {
  createPrismaRegistry,
  httpRegistry,
  openLocalRegistry,
  pullStudent,
  type LocalRegistry,
  type PulledStudent,
  type RegistryPort,
} from '@cmbn/pipeline';
import { CliError } from '../errors.ts';
import { printJson } from '../output.ts';
import { floatOption, intOption } from '../options.ts';

interface RemoteOptions {
  remote?: string;
  token?: string;
  json?: boolean;
}

/**
 * Downloads NAME | NAME@ALIAS | NAME:VERSION from a coordinator and extracts it (pullStudent over
 * httpRegistry): refused unless its sha256 matches both the X-Artifact-Sha256 header and the
 * registry's version record (and its length both Content-Length and the record); a refused pull
 * writes nothing.
 */
export async function pullRemoteStudent(client: ApiClient, ref: string, out: string, force = false): Promise<PulledStudent> {
  return pullStudent({ ref, outDir: out, registry: httpRegistry(client.base, client.token !== undefined ? { token: client.token } : {}), force });
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

/** A record as the API carries it: the same JSON (ISO timestamps), parsed by the same schema. */
const asContract = <S extends z.ZodType>(schema: S, value: unknown): z.infer<S> => schema.parse(JSON.parse(JSON.stringify(value)));

/**
 * Runs `fn` against the registry the options name: the coordinator's API with --remote, else the
 * local one (moves recorded as the principal `local`), closed afterwards. `local` is given only
 * for the local registry (the gc guard needs its store and database).
 */
async function withRegistry<T>(o: RemoteOptions, fn: (reg: RegistryPort, local?: LocalRegistry) => Promise<T>): Promise<T> {
  if (o.remote !== undefined) {
    const token = o.token ?? process.env.CMBN_API_TOKEN;
    return fn(httpRegistry(o.remote, token !== undefined ? { token } : {}));
  }
  const local = await openLocalRegistry();
  try {
    return await fn(createPrismaRegistry({ store: local.store, principal: 'local' }), local);
  } finally {
    await local.close();
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
    withRegistry(o, async (reg) => {
      const list = asContract(ZModelList, { models: await reg.listModels() }).models;
      const lines = list.map((m) => {
        const aliases = Object.entries(m.aliases).map(([a, v]) => `@${a}→${v}`);
        return `${m.name}\tlatest ${m.latestVersion}${aliases.length ? `\t${aliases.join(' ')}` : ''}`;
      });
      out(o, { models: list }, lines.length ? lines.join('\n') : '(no registered models)');
    }),
  );

  withRemote(
    models
      .command('show')
      .argument('<name>')
      .option('--versions <n>', 'how many of the newest versions to show (1-1000, default 100)', intOption('--versions', 1))
      .description("a model's versions: status, metrics, lineage"),
  ).action(
    async (name: string, o: RemoteOptions & { versions?: number }) =>
      withRegistry(o, async (reg) => {
        const m = asContract(ZModelDetail, await reg.getModel(name, o.versions !== undefined ? { limit: o.versions } : {}));
        const byVersion = new Map<number, string[]>();
        for (const [a, v] of Object.entries(m.aliases)) byVersion.set(v, [...(byVersion.get(v) ?? []), `@${a}`]);
        const lines = [`${m.name} (latest ${m.latestVersion})`];
        for (const v of m.versions) {
          lines.push(
            `  ${v.version}\t${v.status}\t${metricText(v.metrics)}\tbackend ${v.backend}\tmbn ${v.mbnModelHash.slice(0, 12)}` +
              `${v.artifactSha256 ? `\tsha256 ${v.artifactSha256.slice(0, 12)}` : ''}${byVersion.has(v.version) ? `\t${byVersion.get(v.version)!.join(' ')}` : ''}`,
          );
        }
        if (m.nextPageToken !== null) {
          lines.push(`  (the newest ${m.versions.length} of ${m.versionCount} versions; older: cmbn models search ${m.name} --page-token ${m.nextPageToken}, or --all)`);
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
    return withRegistry(o, async (reg) => {
      if (o.delete) {
        const d = asContract(ZDeletedAlias, { name, alias, deleted: true, event: await reg.deleteAlias(name, alias) });
        return out(o, d, `removed ${name}@${alias} (was ${d.event.previousVersion})`);
      }
      const m = asContract(ZAliasMove, o.rollback ? await reg.rollbackAlias(name, alias) : await reg.setAlias(name, alias, version!));
      out(o, m, `${name}@${alias} → ${m.version}${m.previousVersion !== null ? ` (was ${m.previousVersion})` : ''}`);
    });
  });

  withRemote(models.command('history').argument('<name>').argument('<alias>').description("an alias' moves, newest first: when, who, from which version to which")).action(
    async (name: string, alias: string, o: RemoteOptions) =>
      withRegistry(o, async (reg) => {
        const h = asContract(ZAliasHistory, { name, alias, ...(await reg.aliasHistory(name, alias)) });
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
    withRegistry(o, async (reg) => {
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
      const search = async (p: VersionSearch) => asContract(ZVersionSearchPage, await reg.searchVersions(p));
      let page = await search(q);
      const versions = [...page.versions];
      while (o.all === true && page.nextPageToken !== null) {
        page = await search({ ...q, pageToken: page.nextPageToken });
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
    withRegistry(o, async (reg) => {
      const p = await pullStudent({ ref, outDir: o.out, registry: reg, force: o.force === true });
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
    withRegistry(o, async (reg) => {
      const d = asContract(ZDeletedVersion, { ...(await reg.deleteVersion(name, version)), deleted: true });
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
    withRegistry(o, async (reg, local) => {
      const dryRun = o.dryRun === true;
      if (local !== undefined) refuseSharedStoreSweep(local.store.url, local.url, dryRun, o.force === true);
      const onStatus = (j: { id: string; status: string; attempts: number }) =>
        process.stderr.write(`gc: sweep ${j.id} ${j.status}${j.attempts > 0 && j.status !== 'succeeded' ? ` (after ${j.attempts} failed attempt(s))` : ''}\n`);
      const g = asContract(ZGcResult, await reg.gc({ ...(o.grace !== undefined ? { graceSeconds: o.grace } : {}), dryRun, onStatus }));
      const what = g.dryRun ? `would delete ${g.orphans.length}` : `deleted ${g.deleted.length}`;
      const later = g.deferred > 0 ? `, ${g.deferred} deferred (a version is PENDING, or the object was re-put within the grace period)` : '';
      out(o, g, `${g.store}: ${g.scanned} objects, ${g.referenced} referenced, ${g.young} unreferenced but younger than the grace period; ${what} orphan(s)${later}`);
    }),
  );
}
