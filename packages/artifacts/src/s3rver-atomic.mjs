/**
 * s3rver's command line with S3's atomic replacement of objects: the S3 server of the tests
 * (s3-test-server.ts spawns this file instead of s3rver's bin; plain ESM JavaScript, so node runs it without tsx).
 *
 * Why: s3rver 3's filesystem store rewrites an existing object's files in place (createWriteStream,
 * fs.copy, fs.writeFile) and takes a GET's Content-Length from stat() of the object file at read
 * time. A GET that races a PUT or COPY of the same key therefore gets a prefix of the object with a
 * matching Content-Length (a clean, wrong answer), or a Content-Length the body never reaches (the
 * client waits until the keep-alive timeout aborts it). S3 and MinIO replace an object atomically:
 * a reader sees the old object or the new one, whole. This launcher gives that for what cmbn does,
 * replacing an object with the same bytes (its keys are their content's sha256): a new object with
 * other bytes could still be read cut to the old one's length, since s3rver stats the path and then
 * opens it again, and its three files are renamed one after the other. cmbn's content-addressed store relies on that,
 * and putting an existing key is its normal case (a retried shard, a re-uploaded dataset, a put that
 * refreshes an object's LastModified for the GC grace). Without this, the multi-host fault suite
 * quarantined a good shard output whose duplicate put (a job re-run after a Redis restart) raced the
 * coordinator's read of it (CI, 2026-12-07).
 *
 * How: while putObject, copyObject and putMetadata run, the store's getResourcePath answers a
 * temporary name for each file of the key being written, in `<bucket dir>/.replacing/` (the same
 * file system; outside the key's directory, which a concurrent delete of another key may remove
 * when it looks empty; and not a bucket, which a directory beside the buckets would be); when the
 * write is done each temporary file is renamed over its real name (rename(2) replaces atomically;
 * an open reader keeps the old file). s3rver's own code does the writing and everything else.
 * Its deleteObject also stops failing (500) when its sweep of emptied directories races another
 * request in them, which the start-up probes of several workers at once did.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';

const root = dirname(createRequire(import.meta.url).resolve('s3rver/package.json'));
const load = (...parts) => import(pathToFileURL(join(root, ...parts)).href);
// A CommonJS module imported from here is the instance that s3rver's own lib/s3rver.js require()s
// (one module cache for the resolved file), so the patch below reaches the server.
const { default: FilesystemStore } = await load('lib', 'stores', 'filesystem.js');
const proto = FilesystemStore.prototype;

/** The files of a key that a write replaces. */
const RESOURCES = ['object', 'metadata.json', 'object.md5'];
const TEMP_DIR = '.replacing';

const size = (path) => stat(path).then((s) => s.size, (err) => (err.code === 'ENOENT' ? -1 : Promise.reject(err)));

/**
 * rename(2), making the destination's directory first, and again when a concurrent delete removed
 * it meanwhile (s3rver's deleteObject removes directories that look empty).
 */
async function renameIntoPlace(temp, real) {
  for (let attempt = 1; ; attempt++) {
    try {
      await mkdir(dirname(real), { recursive: true });
      await rename(temp, real);
      return;
    } catch (err) {
      if (err.code !== 'ENOENT' || attempt >= 20 || (await size(temp)) < 0) throw err;
    }
  }
}

/**
 * Runs `write(view, temp)` on a view of `store` whose getResourcePath answers temporary paths for
 * the files of (bucket, key), then renames each written one into place, the object file last.
 * `temp(resource)` is the temporary path of a resource.
 */
async function replacing(store, bucket, key, write) {
  const temps = new Map();
  // One id for the call, so that s3rver's own `${objectPath}.md5` is the temporary md5 file too
  // (`<id>-object` + `.md5` = `<id>-object.md5`).
  const base = join(store.getBucketPath(bucket), TEMP_DIR, randomBytes(8).toString('hex'));
  const dir = dirname(base);
  const temp = (resource) => {
    const real = store.getResourcePath(bucket, key, resource);
    if (!temps.has(real)) temps.set(real, `${base}-${resource}`); // never the object suffix: not listed
    return temps.get(real);
  };
  const view = Object.create(store, {
    getResourcePath: {
      value: (b, k = '', resource) => (b === bucket && k === key && RESOURCES.includes(resource) ? temp(resource) : store.getResourcePath(b, k, resource)),
    },
  });
  await mkdir(dir, { recursive: true });
  try {
    const result = await write(view, temp);
    // The object file last: a key whose object is not there yet does not exist for s3rver's reads
    // (getMetadata stats it first), so a first put appears only with its metadata and md5 beside it.
    const object = store.getResourcePath(bucket, key, 'object');
    const order = [...temps].sort(([a], [b]) => Number(a === object) - Number(b === object));
    for (const [real, t] of order) {
      // A path asked for but not written (putMetadata without an md5): nothing to replace.
      if ((await size(t)) >= 0) await renameIntoPlace(t, real);
    }
    return result;
  } finally {
    // After a failed write (or a failed rename) nothing of it stays behind in .replacing/.
    await Promise.all([...temps.values()].map((t) => rm(t, { force: true })));
  }
}

/**
 * s3rver's putObject resolves when its hashing Transform has seen every byte, not when the file
 * stream behind it has written them: wait for the file to hold them all before it goes into place
 * (plain s3rver answers the PUT then too, so a read right after it could see a short object).
 */
async function holds(path, bytes) {
  const deadline = Date.now() + 60_000;
  while ((await size(path)) < bytes) {
    if (Date.now() > deadline) throw new Error(`${path}: ${bytes} bytes not written within 60 s`);
    await sleep(1);
  }
}

const { putObject, copyObject, putMetadata, deleteObject } = proto;
proto.putObject = function (object) {
  return replacing(this, object.bucket, object.key, async (view, temp) => {
    const result = await putObject.call(view, object);
    await holds(temp('object'), result.size);
    return result;
  });
};
proto.copyObject = function (srcBucket, srcKey, destBucket, destKey, replacementMetadata) {
  // A copy onto itself rewrites only the metadata (through putMetadata below) and then reads the object back.
  if (srcBucket === destBucket && srcKey === destKey) return copyObject.call(this, srcBucket, srcKey, destBucket, destKey, replacementMetadata);
  return replacing(this, destBucket, destKey, (view) => copyObject.call(view, srcBucket, srcKey, destBucket, destKey, replacementMetadata));
};
proto.putMetadata = function (bucket, key, metadata, md5) {
  // Called by putObject and copyObject on their view (already replacing), or on its own.
  if (Object.getPrototypeOf(this) !== proto) return putMetadata.call(this, bucket, key, metadata, md5);
  return replacing(this, bucket, key, (view) => putMetadata.call(view, bucket, key, metadata, md5));
};

proto.deleteObject = async function (bucket, key) {
  try {
    return await deleteObject.call(this, bucket, key);
  } catch (err) {
    // Its files are unlinked first; what can fail after is its sweep of the directories left empty
    // (readdir, then rmdir), which races every other put and delete in those directories: another
    // delete removed one first (ENOENT), or a put filled it (ENOTEMPTY). The object is deleted
    // either way, and plain s3rver answered such a DELETE with a 500.
    if ((err.syscall === 'scandir' || err.syscall === 'rmdir') && (err.code === 'ENOENT' || err.code === 'ENOTEMPTY')) return undefined;
    throw err;
  }
};

await load('bin', 's3rver.js');
