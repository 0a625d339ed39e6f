/**
 * The one retry taxonomy of the platform: every thrown value is classified into a FailureKind, and
 * the kind alone decides what happens to the job that threw it.
 *
 * - `bad-input`: the job's input is wrong (a corrupt, missing or malformed artifact, invalid data,
 *   a bad payload). No retry can fix it, so the job fails at once (BullMQ `UnrecoverableError`).
 * - `transient-infra`: Postgres, Redis, the artifact store or the network is unreachable or
 *   restarting. Retried with backoff for a bounded time (`withInfraRetry`) *without* using up a
 *   BullMQ attempt: an outage is not the job's fault and can outlast any attempts × backoff.
 * - `cancelled`: the run was cancelled or the job aborted. Fails at once.
 * - `bug`: a programming error (TypeError, RangeError, …) with no infrastructure cause. Our code is
 *   deterministic, so the same input hits the same bug again: fails at once.
 * - `unknown`: anything else (a worker thread that died, a timeout, a lost lock). Retried through
 *   BullMQ's attempts and backoff (counted).
 *
 * failure.ts itself needs no bullmq import: `UnrecoverableJobError` carries the name BullMQ checks
 * (`err instanceof UnrecoverableError || err.name == 'UnrecoverableError'`, bullmq 5 `Job.shouldRetryJob`;
 * the name check is how sandboxed processors' serialised errors are recognised). It is a look-alike,
 * though: at the job boundary the worker adapters throw an instance of BullMQ's own class instead
 * (bullmq-boundary.ts `toBullmqError`, used by every BullMQ processor), so the rule holds whichever check BullMQ makes.
 */
export type FailureKind = 'bad-input' | 'transient-infra' | 'cancelled' | 'bug' | 'unknown';

/** Whether a failure of this kind is worth trying again (see the kinds above). */
export function isRetryable(kind: FailureKind): boolean {
  switch (kind) {
    case 'transient-infra':
    case 'unknown':
      return true;
    case 'bad-input':
    case 'cancelled':
    case 'bug':
      return false;
    default: {
      const never: never = kind;
      throw new Error(`unhandled failure kind ${String(never)}`);
    }
  }
}

/** Whether a retry of this kind spends one of the job's BullMQ attempts (infra retries are free, bounded by time). */
export function consumesAttempt(kind: FailureKind): boolean {
  switch (kind) {
    case 'transient-infra':
      return false;
    case 'unknown':
    case 'bad-input':
    case 'cancelled':
    case 'bug':
      return true;
    default: {
      const never: never = kind;
      throw new Error(`unhandled failure kind ${String(never)}`);
    }
  }
}

/** An input no retry can fix; thrown by handlers that validate what they read. */
export class BadInputError extends Error {
  readonly code = 'BAD_INPUT';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BadInputError';
  }
}

/** The job's run was cancelled (or the job aborted). */
export class CancelledError extends Error {
  readonly code = 'CANCELLED';
  constructor(message: string) {
    super(message);
    this.name = 'CancelledError';
  }
}

/**
 * BullMQ's UnrecoverableError by name only (see the module comment): the job fails without further
 * attempts. Job processors convert it to BullMQ's real class where they throw it.
 */
export class UnrecoverableJobError extends Error {
  constructor(
    message: string,
    readonly kind: FailureKind,
  ) {
    super(message);
    this.name = 'UnrecoverableError';
  }
}

/**
 * Codes of errors about the input, as the packages throw them: @cmbn/artifacts (ARTIFACT_* but
 * ARTIFACT_READ_DAMAGED, INVALID_KEY, NOT_IMPLEMENTED: a store this build cannot read), @cmbn/data (BAD_DATA), @cmbn/jobs
 * (BAD_CODE_ARTIFACT, BAD_PAYLOAD, BAD_INPUT), @cmbn/mbn (BAD_PARAMS, BAD_MODEL), @cmbn/registry
 * (NOT_FOUND, INVALID, IMMUTABLE: a deleted or malformed record does not come back). The registry's
 * CONFLICT (a run whose status changed under us) is deliberately not here: a retry re-reads it.
 */
const BAD_INPUT_CODES = new Set([
  'ARTIFACT_CORRUPT',
  'ARTIFACT_NOT_FOUND',
  'ARTIFACT_TOO_LARGE',
  'INVALID_KEY',
  'NOT_IMPLEMENTED',
  'BAD_DATA',
  'BAD_CODE_ARTIFACT',
  'BAD_PAYLOAD',
  'BAD_INPUT',
  'BAD_PARAMS',
  'BAD_MODEL',
  'BAD_REQUEST',
  'NOT_FOUND',
  'INVALID',
  'IMMUTABLE',
]);

const CANCELLED_CODES = new Set(['CANCELLED', 'ABORTED', 'ABORT_ERR']);

/**
 * Codes of our packages' errors that a retry fixes: @cmbn/artifacts' ARTIFACT_READ_DAMAGED (a read
 * was damaged on the way; the stored object verified on a second read).
 */
const TRANSIENT_CODES = new Set(['ARTIFACT_READ_DAMAGED']);

/** Node socket/DNS errors and undici's: the peer is down, restarting or unreachable. */
const NET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/**
 * Prisma: P1001 can't reach the server, P1002 timed out, P1008 operation timed out, P1017 server
 * closed the connection, P2024 timed out waiting for a pooled connection, P2034 write conflict/deadlock.
 */
const PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024', 'P2034']);

/** @prisma/adapter-pg's DriverAdapterError kinds for a lost or unreachable server. */
const ADAPTER_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections', 'TransactionWriteConflict']);

/**
 * Postgres SQLSTATEs: class 08 (connection exception), 57P01 admin shutdown, 57P02 crash shutdown,
 * 57P03 cannot connect now (starting up / recovering), 53300 too many connections, 40001/40P01
 * serialization failure / deadlock (retrying the transaction is the documented answer).
 */
function isTransientSqlState(code: string): boolean {
  return /^08[0-9A-Z]{3}$/.test(code) || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300' || code === '40001' || code === '40P01';
}

/** AWS SDK v3 error names of throttling, timeouts and network failures. */
const SDK_NAMES = new Set([
  'TimeoutError',
  'NetworkingError',
  'RequestTimeout',
  'RequestTimeoutException',
  'ThrottlingException',
  'Throttling',
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'MaxRetriesPerRequestError', // ioredis: a command gave up while Redis was away
]);

const INFRA_MESSAGES = [
  /Connection terminated/i, // pg: the server went away mid-connection
  /^timeout expired$/, // pg: connectionTimeoutMillis passed (TCP connected, the server never answered)
  /Connection is closed/i, // ioredis
  /socket hang up/i,
  /Client has encountered a connection error/i, // pg pool
  /timeout exceeded when trying to connect/i, // pg pool
  /Can't reach database server/i, // Prisma P1001's text
  /Server has closed the connection/i, // Prisma P1017's text
  /the database system is (starting up|shutting down|in recovery mode)/i,
  /terminating connection due to administrator command/i,
  /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY)\b/, // Redis restarting / failing over
  /Stream isn't writeable/i, // ioredis without an offline queue
];

const BUG_NAMES = new Set(['TypeError', 'RangeError', 'ReferenceError', 'SyntaxError', 'EvalError', 'URIError']);

type Obj = Record<string, unknown>;

function asObj(v: unknown): Obj | undefined {
  return typeof v === 'object' && v !== null ? (v as Obj) : undefined;
}

/** The error and what it wraps (cause, AggregateError.errors, Prisma's driverAdapterError), breadth first. */
function chain(err: unknown): Obj[] {
  const out: Obj[] = [];
  const queue: unknown[] = [err];
  while (queue.length > 0 && out.length < 16) {
    const e = asObj(queue.shift());
    if (!e || out.includes(e)) continue;
    out.push(e);
    if (e.cause !== undefined) queue.push(e.cause);
    if (Array.isArray(e.errors)) queue.push(...(e.errors as unknown[]).slice(0, 4));
    const meta = asObj(e.meta);
    if (meta?.driverAdapterError !== undefined) queue.push(meta.driverAdapterError);
  }
  return out;
}

function isCancelled(e: Obj): boolean {
  return e.name === 'AbortError' || e.name === 'CancelledError' || (typeof e.code === 'string' && CANCELLED_CODES.has(e.code));
}

function isBadInput(e: Obj): boolean {
  if (e.name === 'UnrecoverableError' || e.name === 'DataError' || e.name === 'ZodError') return true;
  return typeof e.code === 'string' && BAD_INPUT_CODES.has(e.code);
}

function isInfra(e: Obj): boolean {
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (code !== undefined && (NET_CODES.has(code) || PRISMA_CODES.has(code) || TRANSIENT_CODES.has(code) || isTransientSqlState(code))) return true;
  // adapter-pg's DriverAdapterError cause: { kind, code? (SQLSTATE of kind 'postgres'), originalCode? }
  if (typeof e.kind === 'string') {
    if (ADAPTER_KINDS.has(e.kind)) return true;
    for (const c of [e.code, e.originalCode]) if (typeof c === 'string' && isTransientSqlState(c)) return true;
  }
  if (typeof e.name === 'string' && SDK_NAMES.has(e.name)) return true;
  // S3 and other HTTP services: a 5xx or 429 answer (AWS SDK v3 `$metadata`) only. A status that an
  // error of ours might carry says nothing here: ArtifactCorruptError, for one, is a 500 to API
  // clients (apps/coordinator/src/errors.ts) and bad input to a job.
  const status = asObj(e.$metadata)?.httpStatusCode;
  if (typeof status === 'number' && (status >= 500 || status === 429)) return true;
  const msg = typeof e.message === 'string' ? e.message : '';
  return INFRA_MESSAGES.some((re) => re.test(msg));
}

/**
 * The kind of any thrown value. Cancellation and bad input win over infrastructure (an abort that
 * also closed a socket is still a cancel); a TypeError caused by a refused connection (undici's
 * `fetch failed`) is infrastructure, not a bug.
 */
export function classifyError(err: unknown): FailureKind {
  if (err instanceof UnrecoverableJobError) return err.kind;
  const links = chain(err);
  if (links.length === 0) return 'unknown';
  if (links.some(isCancelled)) return 'cancelled';
  if (isBadInput(links[0]!)) return 'bad-input';
  if (links.some(isInfra)) return 'transient-infra';
  if (links.some(isBadInput)) return 'bad-input';
  const name = links[0]!.name;
  if (typeof name === 'string' && BUG_NAMES.has(name)) return 'bug';
  return 'unknown';
}

/**
 * The one line that says what went wrong, for a start-up's exit line or a log field: the first
 * non-empty line of the message (Prisma's messages start with an empty one), trimmed.
 */
export function errorLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n').find((l) => l.trim() !== '')?.trim() ?? (err instanceof Error ? err.name : 'unknown error');
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * What a job processor throws for `err`: an UnrecoverableError (by name, see above) when retrying
 * cannot help, else the error itself (BullMQ then retries it per the catalog's attempts/backoff).
 * `what` prefixes the message, e.g. the job kind.
 */
export function toJobError(err: unknown, what?: string): Error {
  const kind = classifyError(err);
  if (isRetryable(kind)) return err instanceof Error ? err : new Error(String(err));
  if (err instanceof UnrecoverableJobError || (err as { name?: unknown } | null)?.name === 'UnrecoverableError') return err as Error;
  return new UnrecoverableJobError(what ? `${what}: ${messageOf(err)}` : messageOf(err), kind);
}

export interface InfraRetryOptions {
  /** How long transient infrastructure errors are retried in total (CMBN_INFRA_RETRY_MS). */
  budgetMs: number;
  /** First wait; doubles up to maxDelayMs. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Stops waiting (and rethrows the last error) when aborted. */
  signal?: AbortSignal;
  /** Called before each wait (for a log line). */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Runs `fn`, retrying it while it fails with `transient-infra` errors, with exponential backoff
 * (jittered ±20 %) until `budgetMs` is spent; any other error, or the last infra error once the
 * budget is gone, is thrown as is. `fn` must be idempotent: every step of the platform is
 * (deterministic job ids, content-addressed artifacts, conditional DB updates).
 */
export async function withInfraRetry<T>(fn: () => Promise<T>, o: InfraRetryOptions): Promise<T> {
  const deadline = Date.now() + o.budgetMs;
  let delay = o.initialDelayMs ?? 250;
  const max = o.maxDelayMs ?? 5_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (classifyError(err) !== 'transient-infra' || o.signal?.aborted) throw err;
      const left = deadline - Date.now();
      if (left <= 0) throw err;
      const wait = Math.min(left, Math.round(delay * (0.8 + 0.4 * Math.random())));
      o.onRetry?.(err, attempt, wait);
      await sleep(wait, o.signal);
      delay = Math.min(max, delay * 2);
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
