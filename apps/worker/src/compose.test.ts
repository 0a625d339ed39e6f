/**
 * Docker cannot run on the development machines, so the compose files are checked here: parsed
 * as YAML (with `<<` merge keys, as compose reads them), interpolated the way compose does, and
 * every service's environment checked against what the apps actually read (their zod env
 * schemas, S3_ENV_VARS) and parse. The two-machine files of docs/DEPLOY.md are checked the same
 * way, and against each other (machine B reaches what machine A publishes).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { S3_ENV_VARS, createArtifactStore, parseS3Url, s3OptionsFromEnv } from '@cmbn/artifacts';
import { ZCoordinatorEnv, readCoordinatorEnv } from '@cmbn/coordinator';
import { ZWorkerEnv, readWorkerEnv } from './env.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string | number | null>;
  ports?: string[];
  volumes?: string[];
  profiles?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}
interface Compose {
  name?: string;
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

function load(rel: string): Compose {
  return parse(readFileSync(join(ROOT, rel), 'utf8'), { merge: true }) as Compose;
}

/** Compose's interpolation: $$, ${V}, ${V:-default}, ${V-default}, ${V:?error}, ${V?error}. */
function interpolate(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (all, name: string | undefined, op: string | undefined, arg: string | undefined) => {
    if (all === '$$') return '$';
    const v = env[name!];
    const empty = v === undefined || (op?.startsWith(':') === true && v === '');
    if (op === undefined) return v ?? '';
    if (op.endsWith('-')) return empty ? arg! : v!;
    if (empty) throw new Error(`required variable ${name} is missing: ${arg}`);
    return v!;
  });
}

/** A service's environment as the container sees it: interpolated; `KEY:` without a value passes the shell's (absent here). */
function resolvedEnv(s: Service, env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.environment ?? {})) if (v !== null) out[k] = interpolate(String(v), env);
  return out;
}

/** Compose's merge of an override file, for the keys the override files use (checked below). */
function merge(base: Compose, over: Compose): Compose {
  const services = structuredClone(base.services);
  for (const [name, o] of Object.entries(over.services)) {
    const s = services[name];
    if (s === undefined) throw new Error(`override names unknown service ${name}`);
    if (o.environment) s.environment = { ...s.environment, ...o.environment };
    if (o.ports) s.ports = [...(s.ports ?? []), ...o.ports];
    if (o.command) s.command = o.command;
  }
  return { ...base, services };
}

const publishedPort = (mapping: string) => Number(mapping.split(':')[0]);
const APP_SERVICES = ['coordinator', 'worker', 'worker-gpu'] as const;
const coordinatorReads = new Set<string>([...Object.keys(ZCoordinatorEnv.shape), ...S3_ENV_VARS]);
/**
 * Coordinator settings compose deliberately neither sets nor passes through: PORT and HOST are the
 * container's (`--port 8080`, which the ports mapping publishes; every interface), and the queue
 * prefix must be the workers' too, so it stays the default for all.
 */
const COORDINATOR_FIXED = ['PORT', 'HOST', 'CMBN_QUEUE_PREFIX'];
const workerReads = new Set<string>([...Object.keys(ZWorkerEnv.shape), ...S3_ENV_VARS]);

const single = load('docker-compose.yml');
const bucketOf = (c: Compose) => /mc mb --ignore-existing \S+\/([a-z0-9.-]+)/.exec(c.services['minio-init']!.command!.join(' '))?.[1];

describe('docker-compose.yml (one host)', () => {
  const svc = single.services;

  it('has MinIO, a bucket-creating minio/mc init step, and a migrate step running npm run db:migrate', () => {
    expect(Object.keys(svc).sort()).toEqual(['coordinator', 'migrate', 'minio', 'minio-init', 'postgres', 'redis', 'worker', 'worker-gpu']);
    expect(svc.minio!.image).toMatch(/^minio\/minio(:|$)/);
    expect(svc.minio!.command).toEqual(['server', '/data', '--console-address', ':9001']);
    expect(svc.minio!.healthcheck!.test).toEqual(['CMD', 'mc', 'ready', 'local']);
    expect(svc['minio-init']!.image).toMatch(/^minio\/mc(:|$)/);
    expect(svc['minio-init']!.depends_on).toEqual({ minio: { condition: 'service_healthy' } });
    // The init step logs in with the same root account MinIO was started with.
    expect(svc['minio-init']!.command!.join(' ')).toMatch(/^mc alias set cmbn http:\/\/minio:9000 "\$\$MINIO_ROOT_USER" "\$\$MINIO_ROOT_PASSWORD" && mc mb --ignore-existing cmbn\//);
    expect(resolvedEnv(svc['minio-init']!, {})).toEqual(resolvedEnv(svc.minio!, {}));
    expect(resolvedEnv(svc.minio!, {}).MINIO_ROOT_PASSWORD!.length).toBeGreaterThanOrEqual(8);
    expect(svc.migrate!.command).toEqual(['npm', 'run', 'db:migrate']);
    expect((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts['db:migrate']).toBeDefined();
    expect(svc.migrate!.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
  });

  it('points the coordinator and every worker at the bucket, with only variables the apps read', () => {
    const minioEnv = resolvedEnv(svc.minio!, {});
    const pg = resolvedEnv(svc.postgres!, {});
    for (const name of APP_SERVICES) {
      const s = svc[name]!;
      const reads = name === 'coordinator' ? coordinatorReads : workerReads;
      expect({ name, unread: Object.keys(s.environment!).filter((k) => !reads.has(k)) }).toEqual({ name, unread: [] });
      const env = resolvedEnv(s, {});
      const parsed = name === 'coordinator' ? readCoordinatorEnv(env) : readWorkerEnv(env);
      expect(parsed.CMBN_ARTIFACTS).toMatch(/^s3:\/\//);
      expect(parseS3Url(parsed.CMBN_ARTIFACTS).bucket).toBe(bucketOf(single));
      expect(env.AWS_ENDPOINT_URL_S3).toBe('http://minio:9000');
      expect(s3OptionsFromEnv(parsed.CMBN_ARTIFACTS, env)).toEqual({
        endpoint: 'http://minio:9000',
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: minioEnv.MINIO_ROOT_USER, secretAccessKey: minioEnv.MINIO_ROOT_PASSWORD },
      });
      createArtifactStore(parsed.CMBN_ARTIFACTS, { s3: s3OptionsFromEnv(parsed.CMBN_ARTIFACTS, env) });
      const db = new URL(parsed.DATABASE_URL);
      expect([db.hostname, db.password, db.pathname]).toEqual(['postgres', pg.POSTGRES_PASSWORD, `/${pg.POSTGRES_DB}`]);
      expect(new URL(parsed.REDIS_URL).hostname).toBe('redis');
      expect(s.depends_on).toMatchObject({
        postgres: { condition: 'service_healthy' },
        redis: { condition: 'service_healthy' },
        'minio-init': { condition: 'service_completed_successfully' },
        migrate: { condition: 'service_completed_successfully' },
      });
      expect(s.command!.slice(0, 3)).toEqual(['npx', 'tsx', 'apps/cli/src/main.ts']);
      expect(existsSync(join(ROOT, s.build!.dockerfile))).toBe(true);
    }
    expect(existsSync(join(ROOT, 'apps/cli/src/main.ts'))).toBe(true);
  });

  it('passes every other coordinator setting through from the shell or .env, unset when unset', () => {
    const c = svc.coordinator!;
    const set = new Set(Object.keys(c.environment!));
    const passthrough = Object.entries(c.environment!).filter(([, v]) => v === null).map(([k]) => k);
    const missing = Object.keys(ZCoordinatorEnv.shape).filter((k) => !set.has(k) && !COORDINATOR_FIXED.includes(k));
    expect(missing).toEqual([]);
    for (const k of ['CMBN_API_TOKEN', 'CMBN_API_TOKENS', 'CMBN_SESSION_TTL_S', 'CMBN_TRUST_PROXY', 'CMBN_PUBLIC_URL', 'CMBN_PENDING_RECONCILE_MS']) expect(passthrough).toContain(k);
    // A passthrough absent from the shell is absent in the container: the schema's defaults apply.
    const parsed = readCoordinatorEnv(resolvedEnv(c, {}));
    expect([parsed.CMBN_API_TOKENS, parsed.CMBN_TRUST_PROXY, parsed.CMBN_PUBLIC_URL, parsed.CMBN_SESSION_TTL_S]).toEqual([undefined, undefined, undefined, 12 * 3600]);
    expect(c.command).toEqual(['npx', 'tsx', 'apps/cli/src/main.ts', 'coordinator', '--port', '8080']);
    expect(c.ports).toEqual(['8080:8080']);
  });

  it('documents every variable the coordinator and the worker read in docs/API.md', () => {
    const doc = readFileSync(join(ROOT, 'docs/API.md'), 'utf8');
    const undocumented = [...Object.keys(ZCoordinatorEnv.shape), ...Object.keys(ZWorkerEnv.shape)].filter((k) => !doc.includes(`| \`${k}\` |`));
    expect(undocumented).toEqual([]);
  });

  it('builds the console into the image, so the coordinator serves / (the context has no dist)', () => {
    const dockerfile = readFileSync(join(ROOT, 'docker/node.Dockerfile'), 'utf8');
    const steps = dockerfile.split('\n').filter((l) => l.startsWith('RUN '));
    const ci = steps.findIndex((l) => /npm ci\b/.test(l));
    const build = steps.findIndex((l) => /npm run build:console\b/.test(l));
    expect({ ci: ci >= 0, build: build > ci }).toEqual({ ci: true, build: true });
    expect(readFileSync(join(ROOT, 'docker/node.Dockerfile.dockerignore'), 'utf8').split('\n')).toContain('**/dist');
    const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts['build:console']).toMatch(/@cmbn\/console/);
    expect((JSON.parse(readFileSync(join(ROOT, 'apps/console/package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.build).toMatch(/vite build/);
  });

  it('declares every named volume it mounts, and none for artifacts any more', () => {
    const used = Object.values(svc).flatMap((s) => (s.volumes ?? []).map((v) => v.split(':')[0]!));
    expect(new Set(used)).toEqual(new Set(Object.keys(single.volumes ?? {})));
    expect(Object.keys(single.volumes ?? {}).sort()).toEqual(['minio-data', 'postgres-data', 'redis-data']);
  });
});

describe('docker/machine-a.yml + docker/machine-b.yml (two machines)', () => {
  const overA = load('docker/machine-a.yml');
  const envA = { REDIS_PASSWORD: 'r3dispw', POSTGRES_PASSWORD: 'pgpw', MINIO_ROOT_PASSWORD: 'miniorootpw' };
  const a = merge(single, overA);
  const b = load('docker/machine-b.yml');
  const envB = { CMBN_HOST_A: '198.18.0.2', REDIS_PASSWORD: 'r3dispw', AWS_ACCESS_KEY_ID: 'cmbn-worker', AWS_SECRET_ACCESS_KEY: 'workersecret' };

  it('machine A: only environment, ports and command are overridden; Redis keeps AOF and noeviction and gains a password', () => {
    for (const s of Object.values(overA.services)) expect(Object.keys(s).filter((k) => !['environment', 'ports', 'command'].includes(k))).toEqual([]);
    const redisCmd = a.services.redis!.command!.map((c) => interpolate(c, envA));
    expect(redisCmd).toEqual([...single.services.redis!.command!, '--requirepass', 'r3dispw']);
    expect(resolvedEnv(a.services.redis!, envA)).toEqual({ REDISCLI_AUTH: 'r3dispw' });
    expect(() => resolvedEnv(a.services.redis!, {})).toThrow(/REDIS_PASSWORD/);
    for (const name of APP_SERVICES) {
      const env = resolvedEnv(a.services[name]!, envA);
      const parsed = name === 'coordinator' ? readCoordinatorEnv(env) : readWorkerEnv(env);
      expect(new URL(parsed.REDIS_URL)).toMatchObject({ hostname: 'redis', password: 'r3dispw' });
      expect(new URL(parsed.DATABASE_URL).password).toBe('pgpw');
      expect(s3OptionsFromEnv(parsed.CMBN_ARTIFACTS, env).credentials).toEqual({ accessKeyId: 'cmbn', secretAccessKey: 'miniorootpw' });
    }
  });

  it('machine B: shard workers get Redis, the bucket and S3 credentials only; machine A publishes what they reach', () => {
    const w = b.services.worker!;
    expect(Object.keys(w.environment!).sort()).toEqual(['CMBN_ARTIFACTS', 'CMBN_WORKER_JOBS', 'REDIS_URL', ...S3_ENV_VARS.filter((v) => v in w.environment!)].sort());
    expect(Object.keys(w.environment!).filter((k) => !workerReads.has(k))).toEqual([]);
    const env = resolvedEnv(w, envB);
    const parsed = readWorkerEnv(env);
    expect(parsed.CMBN_WORKER_JOBS).toEqual(['shard']);
    expect(parsed.CMBN_ARTIFACTS).toBe(resolvedEnv(single.services.worker!, {}).CMBN_ARTIFACTS);
    const redis = new URL(parsed.REDIS_URL);
    const s3 = s3OptionsFromEnv(parsed.CMBN_ARTIFACTS, env);
    expect({ redis: [redis.hostname, redis.password], endpoint: s3.endpoint, pathStyle: s3.forcePathStyle }).toEqual({
      redis: ['198.18.0.2', 'r3dispw'],
      endpoint: 'http://198.18.0.2:9000',
      pathStyle: true,
    });
    const published = Object.values(a.services).flatMap((s) => (s.ports ?? []).map(publishedPort));
    for (const port of [Number(redis.port), Number(new URL(s3.endpoint!).port), 5432, 8080]) expect(published).toContain(port);
    expect(() => resolvedEnv(w, { ...envB, CMBN_HOST_A: '' })).toThrow(/CMBN_HOST_A/);
    expect(w.build).toEqual({ context: '..', dockerfile: 'docker/node.Dockerfile' });
    expect(w.command).toEqual(single.services.worker!.command);
  });

  it('machine B: the distill worker (machine-b-distill.yml) also needs DATABASE_URL, and compose refuses to start it without', () => {
    const extra = load('docker/machine-b-distill.yml');
    expect(extra.name).toBe(b.name);
    expect(Object.keys(extra.services)).toEqual(['distill-worker']);
    const d = extra.services['distill-worker']!;
    expect(d.profiles).toBeUndefined();
    expect(Object.keys(d.environment!).filter((k) => !workerReads.has(k))).toEqual([]);
    // Same Redis, bucket and keys as machine-b.yml's shard workers; only the jobs and Postgres differ.
    const { CMBN_WORKER_JOBS: jobs, DATABASE_URL: dbUrl, ...rest } = d.environment!;
    const { CMBN_WORKER_JOBS: _shardJobs, ...shardRest } = b.services.worker!.environment!;
    expect([jobs, typeof dbUrl]).toEqual(['distill', 'string']);
    expect(rest).toEqual(shardRest);
    expect([d.build, d.image, d.command]).toEqual([b.services.worker!.build, b.services.worker!.image, b.services.worker!.command]);
    expect(() => resolvedEnv(d, envB)).toThrow(/required variable DATABASE_URL is missing: set DATABASE_URL=/);
    expect(() => resolvedEnv(d, { ...envB, DATABASE_URL: '' })).toThrow(/DATABASE_URL/);
    const parsed = readWorkerEnv(resolvedEnv(d, { ...envB, DATABASE_URL: 'postgresql://postgres:pgpw@198.18.0.2:5432/cmbn' }));
    expect([parsed.CMBN_WORKER_JOBS, parsed.DATABASE_URL]).toEqual([['distill'], 'postgresql://postgres:pgpw@198.18.0.2:5432/cmbn']);
    // A shard-only machine B never sets DATABASE_URL: nothing in machine-b.yml may require it
    // (compose interpolates all of a file's services, whatever profiles are active).
    expect(readFileSync(join(ROOT, 'docker/machine-b.yml'), 'utf8').replace(/#.*$/gm, '')).not.toMatch(/DATABASE_URL/);
    for (const s of Object.values(b.services)) expect(() => resolvedEnv(s, envB)).not.toThrow();
  });
});
