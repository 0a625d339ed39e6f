import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { CopyObjectCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { GetObjectCommandOutput, S3ClientConfig } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { confirmCorruption } from './confirm-corrupt.ts';
import { ArtifactNotFoundError, ArtifactQuarantinedError, ArtifactStoreConfigError, ArtifactTooLargeError, type ArtifactCorruptError, type ArtifactReadDamagedError } from './errors.ts';
import type { S3Location, S3StoreOptions } from './s3-config.ts';
import { diagnoseS3Failure, isS3NotFound } from './s3-errors.ts';
import { assertSha256Hex, isSha256Hex, objectKey } from './store.ts';
import type { ArtifactStore, ByteSource, PutResult, PutStreamOptions, StoredObject } from './store.ts';
import { verifiedReadStream } from './verified-read-stream.ts';

const MiB = 1024 * 1024;
/**
 * Upload memory is bounded by parts in flight: measured on a 300 MB upload to s3rver, peak RSS grew
 * by ~12-17 MiB per concurrent part (the part, its 6 MiB concatenation buffer, allocator slack):
 * 36 MiB with 1 part in flight, ~50 with 2, ~75-87 with the SDK's default of 4. Two keep a
 * socket busy while the next part fills, which is what loopback and LAN stores need.
 */
const DEFAULT_PART_SIZE = 5 * MiB;
const DEFAULT_QUEUE_SIZE = 2;
/** The start-up probe gives up after this long whatever the SDK does (DNS, TLS, retries). */
const CHECK_DEADLINE_MS = 10_000;

function clientConfig(opts: S3StoreOptions, handler: { connectionTimeout: number; requestTimeout: number }, maxAttempts?: number): S3ClientConfig {
  return {
    region: opts.region,
    forcePathStyle: opts.forcePathStyle,
    ...(opts.endpoint !== undefined ? { endpoint: opts.endpoint } : {}),
    ...(opts.credentials !== undefined ? { credentials: opts.credentials } : {}),
    ...(maxAttempts !== undefined ? { maxAttempts } : {}),
    // Plain options are turned into the SDK's NodeHttpHandler. requestTimeout is a socket idle
    // timeout, so long transfers are fine; a server that stops answering is not waited on forever.
    requestHandler: { ...handler, throwOnRequestTimeout: true },
    // The SDK's newer default (CRC checksums in aws-chunked trailers) is not understood by many
    // S3-compatible servers (s3rver stores the chunk framing); content is verified by sha256 anyway.
    // An explicit AWS_REQUEST_CHECKSUM_CALCULATION / AWS_RESPONSE_CHECKSUM_VALIDATION still wins.
    ...(process.env.AWS_REQUEST_CHECKSUM_CALCULATION === undefined ? { requestChecksumCalculation: 'WHEN_REQUIRED' as const } : {}),
    ...(process.env.AWS_RESPONSE_CHECKSUM_VALIDATION === undefined ? { responseChecksumValidation: 'WHEN_REQUIRED' as const } : {}),
  };
}

/**
 * Content-addressed objects at `<prefix>/sha256/ab/cdef…` in one bucket.
 *
 * - put(bytes): one PutObject straight to the final key; a PUT is atomic, so the key holds either
 *   nothing or the whole object.
 * - putStream: the key is only known at the end, so the bytes go (multipart, bounded memory) to
 *   `<prefix>/tmp/<random>`, are copied server-side to the final key and the temporary object is
 *   deleted. No half-written object is ever visible under a final key; concurrent writers of the
 *   same key copy the same bytes, which is harmless.
 * - Reads verify the sha256; a mismatch moves the object to `<prefix>/quarantine/` (copy, then
 *   delete) so that the next put writes it anew.
 *
 * Limits: CopyObject copies at most 5 GiB, which bounds putStream's object size.
 */
export class S3ArtifactStore implements ArtifactStore {
  readonly url: string;
  readonly endpoint: string;
  private readonly client: S3Client;
  private readonly checkClient: S3Client;

  constructor(
    readonly location: S3Location,
    private readonly opts: S3StoreOptions,
  ) {
    this.url = `s3://${location.bucket}${location.prefix === '' ? '' : `/${location.prefix}`}`;
    this.endpoint = opts.endpoint ?? `the AWS S3 endpoint of ${opts.region}`;
    this.client = new S3Client(clientConfig(opts, { connectionTimeout: 5_000, requestTimeout: 120_000 }));
    // One attempt and short timeouts: check() runs at start-up and must answer within seconds.
    this.checkClient = new S3Client(clientConfig(opts, { connectionTimeout: 2_000, requestTimeout: 5_000 }, 1));
  }

  /** Releases the clients' sockets (tests, shutdown). */
  close(): void {
    this.client.destroy();
    this.checkClient.destroy();
  }

  /** The object key of `sha256` in the bucket (for tools and tests that talk to the bucket directly). */
  keyOf(sha256: string): string {
    return this.key(objectKey(sha256));
  }

  async check(): Promise<void> {
    const probe = this.key(`tmp/check-${randomBytes(8).toString('hex')}`);
    const signal = AbortSignal.timeout(CHECK_DEADLINE_MS);
    const bucket = this.location.bucket;
    try {
      // A write proves what the store needs (bucket exists, credentials may write), unlike HeadBucket.
      await this.checkClient.send(new PutObjectCommand({ Bucket: bucket, Key: probe, Body: 'ok' }), { abortSignal: signal });
      await this.checkClient.send(new DeleteObjectCommand({ Bucket: bucket, Key: probe }), { abortSignal: signal });
    } catch (err) {
      const { reason, fix } = diagnoseS3Failure(err, this.endpoint, bucket);
      throw new ArtifactStoreConfigError(this.url, reason, fix);
    }
  }

  async has(sha256: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.location.bucket, Key: this.keyOf(sha256) }));
      return true;
    } catch (err) {
      if (isS3NotFound(err)) return false;
      throw err;
    }
  }

  async put(bytes: Uint8Array): Promise<PutResult> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    // Written even when the key exists (one request either way, vs HEAD then PUT): the write makes
    // its LastModified now, so the registry's GC counts its grace period from this put, not the
    // first one. (A self-copy with MetadataDirective REPLACE would save the upload on AWS, but
    // s3rver, our test server, leaves LastModified unchanged on it.)
    await this.client.send(new PutObjectCommand({ Bucket: this.location.bucket, Key: this.keyOf(sha256), Body: bytes, ContentLength: bytes.byteLength }));
    return { sha256, bytes: bytes.byteLength };
  }

  /** The object's LastModified (when it was last put), undefined when absent. */
  async modifiedAt(sha256: string): Promise<Date | undefined> {
    try {
      const h = await this.client.send(new HeadObjectCommand({ Bucket: this.location.bucket, Key: this.keyOf(sha256) }));
      return h.LastModified ?? new Date(0);
    } catch (err) {
      if (isS3NotFound(err)) return undefined;
      throw err;
    }
  }

  async putStream(src: ByteSource, opts: PutStreamOptions = {}): Promise<PutResult> {
    const maxBytes = opts.maxBytes ?? Number.POSITIVE_INFINITY;
    const hash = createHash('sha256');
    let total = 0;
    let tooLarge: ArtifactTooLargeError | undefined;
    async function* counted(): AsyncGenerator<Buffer> {
      for await (const chunk of src as AsyncIterable<Uint8Array | string>) {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        total += buf.byteLength;
        if (total > maxBytes) {
          // Stop reading at once; the multipart upload (if one began) is aborted by Upload.
          tooLarge = new ArtifactTooLargeError(maxBytes);
          throw tooLarge;
        }
        hash.update(buf);
        yield buf;
      }
    }
    const bucket = this.location.bucket;
    const tmp = this.key(`tmp/${Date.now()}-${randomBytes(8).toString('hex')}`);
    try {
      // Byte mode: an object-mode Readable.from would buffer 16 chunks (of any size) ahead of the upload.
      const upload = new Upload({
        client: this.client,
        params: { Bucket: bucket, Key: tmp, Body: Readable.from(counted(), { objectMode: false }) },
        partSize: this.opts.partSize ?? DEFAULT_PART_SIZE,
        queueSize: this.opts.queueSize ?? DEFAULT_QUEUE_SIZE,
        leavePartsOnError: false,
      });
      try {
        await upload.done();
      } catch (err) {
        throw tooLarge ?? err;
      }
      const sha256 = hash.digest('hex');
      assertSha256Hex(sha256);
      // Copied even when the key exists: the copy makes its LastModified now (see put).
      await this.client.send(new CopyObjectCommand({ Bucket: bucket, Key: this.keyOf(sha256), CopySource: this.copySource(tmp) }));
      return { sha256, bytes: total };
    } finally {
      // Also after a failed upload: a single-part PutObject may have landed before the error.
      await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: tmp })).catch(() => {});
    }
  }

  async *list(): AsyncIterable<StoredObject> {
    const prefix = this.key('sha256/');
    let token: string | undefined;
    do {
      const res = await this.client.send(new ListObjectsV2Command({ Bucket: this.location.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of res.Contents ?? []) {
        // <prefix>/sha256/ab/cdef…: the key without its fan-out slash.
        const sha256 = (o.Key ?? '').slice(prefix.length).replace('/', '');
        if (isSha256Hex(sha256)) yield { sha256, modifiedAt: o.LastModified ?? new Date(0) };
      }
      token = res.IsTruncated === true ? res.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async delete(sha256: string): Promise<boolean> {
    // S3's DeleteObject succeeds whether or not the key exists, so ask first for the answer.
    const existed = await this.has(sha256);
    await this.client.send(new DeleteObjectCommand({ Bucket: this.location.bucket, Key: this.keyOf(sha256) }));
    return existed;
  }

  async get(sha256: string): Promise<Uint8Array> {
    const body = await this.open(sha256);
    const bytes = await body.transformToByteArray();
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== sha256) throw await this.corruptRead(sha256, actual);
    return bytes;
  }

  async createReadStream(sha256: string): Promise<NodeJS.ReadableStream> {
    const body = await this.open(sha256);
    return verifiedReadStream(body as unknown as Readable, sha256, (actual) => this.corruptRead(sha256, actual));
  }

  /** A read found the wrong bytes: confirmed by a second GET before the object is quarantined (confirm-corrupt.ts). */
  private corruptRead(sha256: string, actual: string): Promise<ArtifactCorruptError | ArtifactReadDamagedError> {
    return confirmCorruption(sha256, actual, {
      reread: async () => (await this.body(sha256)) as unknown as NodeJS.ReadableStream | null,
      quarantine: () => this.quarantine(sha256),
    });
  }

  private async open(sha256: string): Promise<NonNullable<GetObjectCommandOutput['Body']>> {
    const body = await this.body(sha256);
    if (body === null) throw await this.missing(sha256);
    return body;
  }

  /** The object's body under its key, or null when the key has none (open's and the confirming read's GET). */
  private async body(sha256: string): Promise<NonNullable<GetObjectCommandOutput['Body']> | null> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: this.keyOf(sha256) }));
      return res.Body ?? null;
    } catch (err) {
      if (isS3NotFound(err)) return null;
      throw err;
    }
  }

  /** Why a key has no object: quarantined as corrupt by an earlier read, or never written (or deleted). */
  private async missing(sha256: string): Promise<ArtifactNotFoundError | ArtifactQuarantinedError> {
    const res = await this.client.send(new ListObjectsV2Command({ Bucket: this.location.bucket, Prefix: this.key(`quarantine/${sha256}-`), MaxKeys: 1 }));
    return (res.KeyCount ?? res.Contents?.length ?? 0) > 0 ? new ArtifactQuarantinedError(sha256) : new ArtifactNotFoundError(sha256);
  }

  /**
   * Copies a corrupt object (confirmed by two reads) to `<prefix>/quarantine/` (kept for
   * inspection) and deletes its key.
   * A concurrent writer may have repaired the key in between; then good bytes are deleted and
   * the next put repairs again, which is harmless because puts are idempotent.
   */
  private async quarantine(sha256: string): Promise<void> {
    const bucket = this.location.bucket;
    const key = this.keyOf(sha256);
    const dest = this.key(`quarantine/${sha256}-${Date.now()}-${randomBytes(4).toString('hex')}`);
    try {
      await this.client.send(new CopyObjectCommand({ Bucket: bucket, Key: dest, CopySource: this.copySource(key) }));
    } catch (err) {
      if (isS3NotFound(err)) return; // another reader quarantined it first
      // Keeping a copy is a courtesy; freeing the key for repair is what matters.
    }
    await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  }

  private key(rel: string): string {
    return this.location.prefix === '' ? rel : `${this.location.prefix}/${rel}`;
  }

  private copySource(key: string): string {
    return `${this.location.bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
  }
}
