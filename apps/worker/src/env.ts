import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';

const REPO_ROOT = new URL('../../../', import.meta.url);

/** The worker's environment, read once at boot. */
export const ZWorkerEnv = z.object({
  /**
   * Postgres of the model registry (@cmbn/registry): the distill job registers the student there.
   * The same database as the coordinator's.
   */
  DATABASE_URL: z.string().min(1).default('postgresql://postgres@127.0.0.1:5432/cmbn'),
  /** Redis holding the BullMQ queues. */
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  /**
   * Artifact store shared with the coordinator: file:///abs/dir, a path, or s3://bucket/prefix (endpoint,
   * region and keys from AWS_ENDPOINT_URL_S3, AWS_REGION, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY;
   * CMBN_S3_FORCE_PATH_STYLE=true for MinIO). Probed with check() at start-up.
   */
  CMBN_ARTIFACTS: z.string().min(1).default(pathToFileURL(join(REPO_ROOT.pathname, '.cmbn/artifacts')).href),
  /**
   * Queues this process takes jobs from, comma-separated: `shard` (needs only Redis and the
   * artifact store) and/or `distill` (also needs DATABASE_URL: it registers the student). A worker
   * on a host without access to Postgres runs with `shard`, so no distill job lands where it fails.
   */
  CMBN_WORKER_JOBS: z
    .string()
    .default('shard,distill')
    .transform((s) => [...new Set(s.split(',').map((x) => x.trim()).filter((x) => x !== ''))])
    .pipe(z.array(z.enum(['shard', 'distill'])).min(1, 'name at least one of shard, distill')),
  /** BullMQ key prefix; must match the coordinator's. Tests use a unique one each. */
  CMBN_QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_.-]+$/).default('cmbn'),
  /** Shards computed at once by this process (one compute thread each). */
  CMBN_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(1),
  /** Intra-op threads of each compute thread's dense backend. */
  CMBN_WORKER_THREADS: z.coerce.number().int().min(1).max(256).default(1),
  /** Local cache of layer inputs for non-file artifact stores. */
  CMBN_WORKER_CACHE: z.string().min(1).default(join(tmpdir(), 'cmbn-worker-cache')),
  /** BullMQ lock of an active job; a dead worker's shard is retried this long after it stops renewing. */
  CMBN_LOCK_DURATION_MS: z.coerce.number().int().min(500).default(30_000),
  /** How often this worker looks for stalled jobs (of dead workers). */
  CMBN_STALLED_INTERVAL_MS: z.coerce.number().int().min(200).default(30_000),
  /** Dense backend: unset = the kernels' default ('blas' when built and CMBN_WORKER_THREADS is 1, else 'ort'); 'gpu' (tfjs-node-gpu, falls back to 'ort'), 'blas', 'ort', 'js' (reference). */
  CMBN_DENSE_BACKEND: z.enum(['gpu', 'blas', 'ort', 'js']).optional(),
  /** Read by @cmbn/kernels itself (sparse-kernel.ts); checked here so a typo fails at start-up. */
  CMBN_SPARSE_KERNEL: z.enum(['native', 'js']).optional(),
  /** TEST ONLY: sleep this long before each shard so a test can kill a worker mid-shard. */
  CMBN_WORKER_TEST_DELAY_MS: z.coerce.number().int().min(0).default(0),
  /** Lock of an active distill job. Student training runs on this process's event loop between batches, so it is longer than a shard's. */
  CMBN_DISTILL_LOCK_DURATION_MS: z.coerce.number().int().min(500).default(120_000),
  /** TEST ONLY: 'after-publish' makes this process SIGKILL itself right after registering a student (first try only), to test retries. */
  CMBN_WORKER_TEST_DISTILL_CRASH: z.enum(['after-publish']).optional(),
  /** How long a transient Postgres/Redis/artifact-store error is retried (with backoff, without using up a job attempt) before it counts as a failure; longer than a database restart. */
  CMBN_INFRA_RETRY_MS: z.coerce.number().int().min(0).default(120_000),
  /** On SIGTERM/SIGINT: how long the graceful close may take before the process logs and exits anyway (1) whatever is down. */
  CMBN_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
  /** pino level. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type TWorkerEnv = z.infer<typeof ZWorkerEnv>;

export function readWorkerEnv(env: NodeJS.ProcessEnv = process.env): TWorkerEnv {
  const r = ZWorkerEnv.safeParse(env);
  if (!r.success) {
    throw new Error(`worker configuration: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return r.data;
}
