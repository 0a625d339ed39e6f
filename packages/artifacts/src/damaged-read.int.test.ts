/**
 * A read damaged on the way is not a corrupt object: the S3 store, reached through a real HTTP
 * proxy on loopback that flips one byte of a GET's body, confirms a mismatch with a second read
 * before it quarantines anything (confirm-corrupt.ts). The object stays under its key, the read
 * fails with ArtifactReadDamagedError (transient), and the next read gets the bytes. A second read
 * that cannot reach the store moves nothing either; an object that is really corrupt is still
 * quarantined through the same proxy (that last test guards the old behaviour: it passed before
 * the second read too). The file store shares the rule (confirm-corrupt.ts) but has no such proxy
 * to damage one read; its corrupt objects are the contract tests'.
 */
import { createHash } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ArtifactCorruptError, ArtifactReadDamagedError, S3ArtifactStore, s3StoreForTest, type S3TestStore } from './index.ts';
import { drain, pattern } from './test-bytes.ts';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/**
 * What the proxy does to the GETs of objects: pass them, flip a byte of the next `damage`, or
 * refuse them (close the socket); `refuseAfterDamage` turns refusal on once a damaged GET has passed.
 */
const mode = { damage: 0, refuse: false, refuseAfterDamage: false, gets: 0 };
let proxy: Server;
let t: S3TestStore;
let proxied: S3ArtifactStore;

beforeAll(async () => {
  t = await s3StoreForTest();
  const upstream = new URL(t.endpoint);
  proxy = createServer((req, res) => {
    const isGet = req.method === 'GET' && /\/sha256\//.test(req.url ?? '');
    if (isGet) mode.gets++;
    if (isGet && mode.refuse) {
      res.socket?.destroy();
      return;
    }
    const damage = isGet && mode.damage > 0;
    if (damage) {
      mode.damage--;
      if (mode.refuseAfterDamage) mode.refuse = true;
    }
    const up = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      let flipped = !damage;
      ur.on('data', (chunk: Buffer) => {
        if (!flipped && chunk.length > 0) {
          chunk[chunk.length >> 1]! ^= 0x10;
          flipped = true;
        }
        res.write(chunk);
      });
      ur.on('end', () => res.end());
    });
    up.on('error', () => res.socket?.destroy());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as AddressInfo;
  proxied = new S3ArtifactStore({ bucket: t.bucket, prefix: t.prefix }, { ...t.options, endpoint: `http://127.0.0.1:${port}` });
});
beforeEach(() => {
  Object.assign(mode, { damage: 0, refuse: false, refuseAfterDamage: false, gets: 0 });
});
afterAll(async () => {
  proxied?.close();
  await new Promise((resolve) => proxy?.close(resolve));
  await t?.cleanup();
});

describe('a read damaged on the way (S3 through a byte-flipping proxy)', () => {
  it('get: fails with ArtifactReadDamagedError (ARTIFACT_READ_DAMAGED: transient), quarantines nothing, and the next get has the bytes', async () => {
    const bytes = pattern(64 * 1024, 1);
    const { sha256 } = await t.store.put(bytes);
    mode.damage = 1;
    const err = await proxied.get(sha256).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtifactReadDamagedError);
    expect((err as ArtifactReadDamagedError).code).toBe('ARTIFACT_READ_DAMAGED');
    expect((err as ArtifactReadDamagedError).actual).not.toBe(sha256);
    expect(mode.gets).toBe(2); // the damaged read and the confirming one
    expect(await t.listKeys('quarantine/')).toEqual([]);
    expect(await proxied.has(sha256)).toBe(true);
    expect(await proxied.get(sha256)).toEqual(bytes);
  });

  it('createReadStream: ends with ArtifactReadDamagedError before the whole sequence, and the object stays', async () => {
    const bytes = pattern(3 * 1024 * 1024, 2);
    const { sha256 } = await t.store.put(bytes);
    mode.damage = 1;
    const got = await drain(await proxied.createReadStream(sha256));
    expect(got.error).toBeInstanceOf(ArtifactReadDamagedError);
    expect(mode.gets).toBe(2); // the damaged stream and the confirming read
    expect(got.bytes.byteLength).toBeLessThan(bytes.byteLength);
    expect(await t.listKeys('quarantine/')).toEqual([]);
    const again = await drain(await proxied.createReadStream(sha256));
    expect(again.error).toBeUndefined();
    expect(sha(again.bytes)).toBe(sha256);
  });

  it('a confirming read that cannot reach the store moves nothing and fails with its own, transient error', async () => {
    const bytes = pattern(32 * 1024, 3);
    const { sha256 } = await t.store.put(bytes);
    mode.damage = 1;
    mode.refuseAfterDamage = true;
    const err = await proxied.get(sha256).catch((e: unknown) => e);
    mode.refuse = mode.refuseAfterDamage = false;
    expect(err).not.toBeInstanceOf(ArtifactCorruptError);
    expect(err).not.toBeInstanceOf(ArtifactReadDamagedError);
    // The socket's own error (the SDK gave up after its retries): what the retry taxonomy sees.
    expect(String((err as Error).message)).toMatch(/socket hang up|ECONNRESET|EPIPE/);
    expect(await t.listKeys('quarantine/')).toEqual([]);
    expect(await proxied.get(sha256)).toEqual(bytes);
  });

  it('an object that is really corrupt is still quarantined (both reads wrong)', async () => {
    const bytes = pattern(16 * 1024, 4);
    const { sha256 } = await t.store.put(bytes);
    const bad = Uint8Array.from(bytes);
    bad[7]! ^= 0x01;
    const raw = new S3Client({ ...t.options, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
    await raw.send(new PutObjectCommand({ Bucket: t.bucket, Key: t.store.keyOf(sha256), Body: bad }));
    raw.destroy();
    const err = await proxied.get(sha256).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtifactCorruptError);
    expect((err as ArtifactCorruptError).actual).toBe(sha(bad));
    expect(await proxied.has(sha256)).toBe(false);
    expect((await t.listKeys('quarantine/')).length).toBe(1);
  });
});
