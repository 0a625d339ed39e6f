import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packDirectory, packEntries, unpackEntries } from './archive.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cmbn-archive-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('deterministic tar archives', () => {
  it('round-trips any set of plain files, sorted by name', () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9._-]{0,20}$/);
    fc.assert(
      fc.property(fc.uniqueArray(fc.record({ name, data: fc.uint8Array({ maxLength: 1500 }) }), { selector: (e) => e.name, maxLength: 5 }), (entries) => {
        const back = unpackEntries(packEntries(entries));
        const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : 1));
        expect(back.map((e) => e.name)).toEqual(sorted.map((e) => e.name));
        back.forEach((e, i) => expect(Buffer.from(e.data).equals(Buffer.from(sorted[i]!.data))).toBe(true));
      }),
      { numRuns: 50 },
    );
  });

  it('gives the same bytes whatever the entry order, file times or modes', async () => {
    const a = packEntries([{ name: 'b.bin', data: bytes('bb') }, { name: 'a.json', data: bytes('{}') }]);
    const b = packEntries([{ name: 'a.json', data: bytes('{}') }, { name: 'b.bin', data: bytes('bb') }]);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    await writeFile(join(dir, 'a.json'), '{}', { mode: 0o600 });
    await writeFile(join(dir, 'b.bin'), 'bb', { mode: 0o755 });
    const c = await packDirectory(dir);
    expect(Buffer.from(c).equals(Buffer.from(a))).toBe(true);
  });

  it('is a standard ustar archive that tar lists', async () => {
    const file = join(dir, 'x.tar');
    await writeFile(file, packEntries([{ name: 'model.json', data: bytes('{"a":1}') }]));
    // GNU tar is part of every Debian base system; a machine without it fails here rather than skipping.
    const listing = execFileSync('tar', ['-tvf', file], { encoding: 'utf8' });
    expect(listing).toMatch(/-rw-r--r-- .*0\/0 +7 1970-01-01 00:00 model\.json/);
  });

  it('refuses paths, links and corrupt headers', () => {
    expect(() => packEntries([{ name: '../evil', data: bytes('x') }])).toThrow(/not a plain file name/);
    const ok = packEntries([{ name: 'a', data: bytes('x') }]);
    const bad = ok.slice();
    bad[0] = 0x2f; // name "/": a path — the checksum no longer matches either
    expect(() => unpackEntries(bad)).toThrow(/checksum|plain file name/);
    const link = ok.slice();
    link[156] = 0x32; // symlink type, checksum fixed up
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : link[i]!;
    link.set(new TextEncoder().encode(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
    expect(() => unpackEntries(link)).toThrow(/not a regular file/);
    expect(() => unpackEntries(ok.subarray(0, 512))).toThrow(/truncated|end-of-archive/);
  });
});
