/**
 * s3rver's command line with S3's atomic replacement of objects: the S3 server of the tests
 * (s3-test-server.ts spawns this file instead of s3rver's bin; plain ESM JavaScript, so node runs it without tsx).
 *
 * Why: s3rver 3's filesystem store rewrites an existing object's files in place (createWriteStream,
 * fs.copy, fs.writeFile) and takes a GET's Content-Length from stat() of the object file at read
 * time. A GET that races a PUT or COPY of the same key therefore gets a prefix of the object with a
 * matching Content-Length (a clean, wrong answer), or a Content-Length the body never reaches (the
 * client waits until the keep-alive timeout aborts it). S3 and MinIO replace an object atomically:
 * a reader sees the old object or the new one, whole. cmbn's content-addressed store relies on that,
 * and putting an existing key is its normal case (a retried shard, a re-uploaded dataset, a put that
 * refreshes an object's LastModified for the GC grace). Without this, the multi-host fault suite
 * quarantined a good shard output whose duplicate put (a job re-run after a Redis restart) raced the
 * coordinator's read of it (CI, 2026-12-07).
 *
 * How: while putObject, copyObject and putMetadata run, the store's getResourcePath answers a
 * temporary name beside each file of the key being written; when the write is done each temporary
 * file is renamed over its real name (rename(2) replaces atomically; an open reader keeps the old
 * file). s3rver's own code does the writing and everything else, unchanged.
 */
import { randomBytes } from 'node:crypto';
import { rename } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = dirname(createRequire(import.meta.url).resolve('s3rver/package.json'));
const load = (...parts) => import(pathToFileURL(join(root, ...parts)).href);
// A CommonJS module imported from here is the instance that s3rver's own lib/s3rver.js require()s
// (one module cache for the resolved file), so the patch below reaches the server.
const { default: FilesystemStore } = await load('lib', 'stores', 'filesystem.js');
const proto = FilesystemStore.prototype;

/** The files of a key that a write replaces. */
const RESOURCES = ['object', 'metadata.json', 'object.md5'];

/**
 * Runs `write` on a view of `store` whose getResourcePath gives temporary paths for the files of
 * (bucket, key), then renames each written one into place, the object file first.
 */
async function replacing(store, bucket, key, write) {
  const temps = new Map();
  const view = Object.create(store, {
    getResourcePath: {
      value(b, k = '', resource) {
        const real = store.getResourcePath(b, k, resource);
        if (b !== bucket || k !== key || !RESOURCES.includes(resource)) return real;
        if (!temps.has(real)) temps.set(real, `${real}.replacing-${randomBytes(6).toString('hex')}`);
        return temps.get(real);
      },
    },
  });
  const result = await write(view);
  for (const [real, temp] of temps) {
    await rename(temp, real).catch((err) => {
      // A path asked for but not written (putMetadata without an md5): nothing to replace.
      if (err.code !== 'ENOENT') throw err;
    });
  }
  return result;
}

const { putObject, copyObject, putMetadata } = proto;
proto.putObject = function (object) {
  return replacing(this, object.bucket, object.key, (view) => putObject.call(view, object));
};
proto.copyObject = function (srcBucket, srcKey, destBucket, destKey, replacementMetadata) {
  return replacing(this, destBucket, destKey, (view) => copyObject.call(view, srcBucket, srcKey, destBucket, destKey, replacementMetadata));
};
proto.putMetadata = function (bucket, key, metadata, md5) {
  // Called by putObject and copyObject on their view (already replacing), or on its own.
  if (Object.getPrototypeOf(this) !== proto) return putMetadata.call(this, bucket, key, metadata, md5);
  return replacing(this, bucket, key, (view) => putMetadata.call(view, bucket, key, metadata, md5));
};

await load('bin', 's3rver.js');
