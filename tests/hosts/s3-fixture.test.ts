/**
 * The s3rver fixture inside a network namespace (`wrap`), as the hosts suite uses it: reachable
 * only at the namespace's address, down after kill(), back with its objects after start().
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3Server, type S3TestServer } from '@cmbn/artifacts';
import { createNetwork, type Network } from './netns.ts';

let net: Network;
let dir: string;
let s3: S3TestServer | undefined;

beforeAll(async () => {
  net = await createNetwork(['store']);
  dir = await mkdtemp(join(tmpdir(), 'cmbn-hosts-s3fixture-'));
}, 60_000);

afterAll(async () => {
  await s3?.stop();
  await net?.destroy();
  await rm(dir, { recursive: true, force: true });
});

const client = (server: S3TestServer) => new S3Client({ ...server.options(), maxAttempts: 1, requestHandler: { connectionTimeout: 1000, requestTimeout: 2000 } });

describe('startS3Server with wrap (inside a namespace)', () => {
  it('refuses wrap without a port (a free port cannot be picked from outside the namespace)', async () => {
    const host = net.hosts.store!;
    await expect(startS3Server({ host: host.addr, wrap: host.wrap, dir })).rejects.toThrow(/pass a port with wrap/);
  });

  it('serves at the namespace address, is down after kill(), and start() brings it back with its objects', async () => {
    const host = net.hosts.store!;
    s3 = await startS3Server({ host: host.addr, port: 9000, wrap: host.wrap, dir, buckets: ['fixture'] });
    expect(s3.endpoint).toBe(`http://${host.addr}:9000`);
    const c = client(s3);
    try {
      await c.send(new PutObjectCommand({ Bucket: 'fixture', Key: 'a', Body: 'hello' }));
      await s3.kill();
      await expect(c.send(new GetObjectCommand({ Bucket: 'fixture', Key: 'a' }))).rejects.toThrow();
      await s3.start();
      const got = await c.send(new GetObjectCommand({ Bucket: 'fixture', Key: 'a' }));
      expect(await got.Body!.transformToString()).toBe('hello');
    } finally {
      c.destroy();
    }
  }, 60_000);
});
