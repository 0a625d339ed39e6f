/**
 * `cmbn models list|show|alias|pull|delete`: against the local registry (DATABASE_URL, else the
 * embedded Postgres under CMBN_HOME), or with `--remote URL [--token T]` against a coordinator's
 * `/v1/models` API.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { ApiClient } from '../api-client.ts';
import { isStudentDir } from '@cmbn/distill';
import { deleteVersionAndArtifacts, getModel, listModels, setAlias, type ModelDetail, type ModelVersionRecord, type RegisteredModelRecord } from '@cmbn/registry';
import { openLocalRegistry, pullStudent, unpackEntries, type PulledStudent } from '@cmbn/pipeline';
import { CliError } from '../errors.ts';
import { printJson } from '../output.ts';
import { intOption } from '../options.ts';

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
  const record = await client.json<ModelVersionRecord>(`/v1/models/${encodeURIComponent(m[1]!)}/versions/${m[2]}`);
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

/** The registry operations of the commands, local (Prisma) or remote (HTTP). */
interface ModelsBackend {
  list(): Promise<RegisteredModelRecord[]>;
  show(name: string): Promise<ModelDetail>;
  alias(name: string, alias: string, version: number): Promise<{ version: number }>;
  pull(ref: string, out: string, force: boolean): Promise<PulledStudent>;
  remove(name: string, version: number): Promise<void>;
}

function remoteBackend(o: RemoteOptions & { remote: string }): ModelsBackend {
  const c = new ApiClient(o.remote, o.token ?? process.env.CMBN_API_TOKEN);
  const n = encodeURIComponent;
  return {
    list: async () => (await c.json<{ models: RegisteredModelRecord[] }>('/v1/models')).models,
    show: (name) => c.json<ModelDetail>(`/v1/models/${n(name)}`),
    alias: (name, alias, version) =>
      c.json<{ version: number }>(`/v1/models/${n(name)}/aliases/${n(alias)}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ version }),
      }),
    pull: (ref, out, force) => pullRemoteStudent(c, ref, out, force),
    remove: async (name, version) => {
      await c.request(`/v1/models/${n(name)}/versions/${version}`, { method: 'DELETE' });
    },
  };
}

async function withRegistry<T>(o: RemoteOptions, fn: (b: ModelsBackend) => Promise<T>): Promise<T> {
  if (o.remote !== undefined) return fn(remoteBackend({ ...o, remote: o.remote }));
  const reg = await openLocalRegistry();
  try {
    return await fn({
      list: listModels,
      show: getModel,
      alias: setAlias,
      pull: (ref, out, force) => pullStudent({ ref, outDir: out, store: reg.store, force }),
      remove: async (name, version) => {
        await deleteVersionAndArtifacts(name, version, reg.store);
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
      .argument('<version>', 'a READY version number', intOption('VERSION', 1))
      .description('point ALIAS (e.g. champion) at VERSION, creating or moving it'),
  ).action(async (name: string, alias: string, version: number, o: RemoteOptions) =>
    withRegistry(o, async (b) => {
      const v = await b.alias(name, alias, version);
      out(o, { name, alias, version: v.version }, `${name}@${alias} → ${v.version}`);
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
      .description('delete a version (refused while an alias points at it)'),
  ).action(async (name: string, version: number, o: RemoteOptions) =>
    withRegistry(o, async (b) => {
      await b.remove(name, version);
      out(o, { name, version, deleted: true }, `deleted ${name}:${version}`);
    }),
  );
}
