/**
 * What checkRedis reads from INFO. The refusals themselves (NOAUTH, WRONGPASS, INFO renamed) and
 * the eviction warning are tested with real processes in apps/coordinator's
 * dependency-refusal.int.test.ts; an old Redis cannot be installed here, so the version rule is
 * checked on INFO texts in the servers' own format (redisServerProblems is what checkRedis
 * throws or warns from), and on the machine's Redis.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { MIN_REDIS_VERSION, RedisConfigError, checkRedis, parseRedisInfo, redisServerProblems, versionBelow } from './redis-probe.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('checkRedis on the machine Redis', () => {
  it('reads the version redis-server reports, and the default eviction policy gives no warning', async () => {
    const warnings: string[] = [];
    const info = await checkRedis(REDIS_URL, { onWarning: (m) => warnings.push(m) });
    // "Redis server v=7.0.15 sha=…": the installed binary, which is the server the tests use.
    const installed = /v=(\d+\.\d+\.\d+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))?.[1];
    expect(info).toEqual({ redisVersion: installed, maxmemoryPolicy: 'noeviction' });
    expect(versionBelow(info.redisVersion!, MIN_REDIS_VERSION)).toBe(false);
    expect(warnings).toEqual([]);
  });
});

describe('parseRedisInfo and versionBelow', () => {
  const section = (lines: string[]) => `# Server\r\n${lines.join('\r\n')}\r\n`;

  it('judges Redis by redis_version against BullMQ’s 5.0.0 floor', () => {
    const old = parseRedisInfo(section(['redis_version:4.0.14', 'redis_mode:standalone']) + '# Memory\r\nmaxmemory_policy:noeviction\r\n');
    expect(old).toEqual({ redisVersion: '4.0.14', maxmemoryPolicy: 'noeviction' });
    expect(versionBelow('4.0.14', MIN_REDIS_VERSION)).toBe(true);
    expect(versionBelow('4.9.99', '5.0.0')).toBe(true);
    expect(versionBelow('5.0.0', '5.0.0')).toBe(false);
    expect(versionBelow('5.0', '5.0.0')).toBe(false);
    expect(versionBelow('10.0.1', '5.0.0')).toBe(false);
    expect(versionBelow('6.2.14', '6.2.0')).toBe(false);
  });

  it('refuses a Redis below 5.0 with the RedisConfigError line DEPLOY.md shows, and only warns about eviction', () => {
    const where = 'redis://10.0.0.5:6379';
    const old = redisServerProblems({ redisVersion: '4.0.14', maxmemoryPolicy: 'noeviction' }, where);
    expect(old.warning).toBeUndefined();
    expect(new RedisConfigError(where, old.refusal!.reason, old.refusal!.fix).message).toBe(
      'redis at redis://10.0.0.5:6379: it is Redis 4.0.14; BullMQ needs Redis 5.0.0 or later (6.2 or later recommended): upgrade the server or point REDIS_URL at a newer one',
    );
    expect(redisServerProblems({ redisVersion: '5.0.0', maxmemoryPolicy: 'noeviction' }, where)).toEqual({});
    expect(redisServerProblems({ redisVersion: undefined, maxmemoryPolicy: 'allkeys-lru' }, where)).toEqual({
      warning: 'redis at redis://10.0.0.5:6379: maxmemory-policy is allkeys-lru; when its memory fills, Redis may evict queued jobs: set maxmemory-policy noeviction (BullMQ requires it)',
    });
  });

  it('leaves Valkey and Dragonfly to their own versions (their redis_version is for compatibility)', () => {
    expect(parseRedisInfo(section(['redis_version:7.2.4', 'server_name:valkey', 'valkey_version:8.0.1'])).redisVersion).toBeUndefined();
    expect(parseRedisInfo(section(['redis_version:6.2.11', 'dragonfly_version:df-v1.14.0'])).redisVersion).toBeUndefined();
  });
});
