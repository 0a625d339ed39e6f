/**
 * `cmbn models list|show|alias|pull|delete` against the local registry (DATABASE_URL, else the
 * embedded Postgres under CMBN_HOME). `--remote URL --token T` is reserved for the coordinator API.
 */
import type { Command } from 'commander';
import { deleteVersion, getModel, listModels, setAlias } from '@cmbn/registry';
import { openLocalRegistry, pullStudent, type LocalRegistry } from '@cmbn/pipeline';
import { CliError } from '../errors.ts';
import { printJson } from '../output.ts';
import { intOption } from '../options.ts';

interface RemoteOptions {
  remote?: string;
  token?: string;
  json?: boolean;
}

async function withRegistry<T>(o: RemoteOptions, fn: (reg: LocalRegistry) => Promise<T>): Promise<T> {
  if (o.remote !== undefined) {
    throw new CliError(
      `--remote is not implemented yet for \`cmbn models\`: the coordinator's /v1/models API client is still to come; ` +
        'run against the local registry (DATABASE_URL or the embedded one) for now',
    );
  }
  const reg = await openLocalRegistry();
  try {
    return await fn(reg);
  } finally {
    await reg.close();
  }
}

const withRemote = (cmd: Command): Command =>
  cmd
    .option('--remote <url>', 'coordinator URL (not implemented yet)')
    .option('--token <token>', 'API token for --remote')
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
    withRegistry(o, async () => {
      const list = await listModels();
      const lines = list.map((m) => {
        const aliases = Object.entries(m.aliases).map(([a, v]) => `@${a}→${v}`);
        return `${m.name}\tlatest ${m.latestVersion}${aliases.length ? `\t${aliases.join(' ')}` : ''}`;
      });
      out(o, { models: list }, lines.length ? lines.join('\n') : '(no registered models)');
    }),
  );

  withRemote(models.command('show').argument('<name>').description("a model's versions: status, metrics, lineage")).action(
    async (name: string, o: RemoteOptions) =>
      withRegistry(o, async () => {
        const m = await getModel(name);
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
    withRegistry(o, async () => {
      const v = await setAlias(name, alias, version);
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
    withRegistry(o, async (reg) => {
      const p = await pullStudent({ ref, outDir: o.out, store: reg.store, force: o.force === true });
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
    withRegistry(o, async () => {
      await deleteVersion(name, version);
      out(o, { name, version, deleted: true }, `deleted ${name}:${version}`);
    }),
  );
}
