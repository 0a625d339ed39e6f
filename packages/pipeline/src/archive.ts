/**
 * Deterministic tar (POSIX ustar) archives of a flat directory of regular files: the student's
 * model.json, weights.bin and student.json.
 *
 * Written by hand rather than with npm `tar` because the archive's sha256 is the version's identity:
 * entries are sorted by name, and mode (0644), uid/gid (0), owner names (empty) and mtime (0) are
 * fixed, so the same files always give the same bytes whatever the host, umask or clock. Any tar
 * reads the result (`tar -tvf`). The reader accepts only what the writer produces — regular files
 * with plain names — so extraction can never escape the target directory.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PipelineError } from './errors.ts';

const BLOCK = 512;
const NAME_MAX = 100;
const SAFE_NAME = /^[A-Za-z0-9._-]+$/;

export interface ArchiveEntry {
  name: string;
  data: Uint8Array;
}

function assertSafeName(name: string): void {
  if (!SAFE_NAME.test(name) || name === '.' || name === '..' || name.length > NAME_MAX) {
    throw new PipelineError('ARCHIVE_INVALID', `archive entry name ${JSON.stringify(name)} is not a plain file name`);
  }
}

function writeString(buf: Uint8Array, offset: number, length: number, s: string): void {
  const bytes = Buffer.from(s, 'ascii');
  if (bytes.length > length) throw new PipelineError('ARCHIVE_INVALID', `tar field overflow: ${s}`);
  buf.set(bytes, offset);
}

/** Octal, zero-padded to width-1 digits, NUL-terminated (the ustar numeric field form). */
function writeOctal(buf: Uint8Array, offset: number, width: number, value: number): void {
  const s = value.toString(8).padStart(width - 1, '0');
  if (s.length > width - 1) throw new PipelineError('ARCHIVE_INVALID', `tar numeric field overflow: ${value}`);
  writeString(buf, offset, width, `${s}\0`);
}

function header(name: string, size: number): Uint8Array {
  const h = new Uint8Array(BLOCK);
  writeString(h, 0, 100, name);
  writeOctal(h, 100, 8, 0o644);
  writeOctal(h, 108, 8, 0);
  writeOctal(h, 116, 8, 0);
  writeOctal(h, 124, 12, size);
  writeOctal(h, 136, 12, 0);
  h.fill(0x20, 148, 156); // checksum is computed with its own field as spaces
  h[156] = 0x30; // '0': regular file
  writeString(h, 257, 6, 'ustar\0');
  writeString(h, 263, 2, '00');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i]!;
  writeString(h, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return h;
}

const padTo = (n: number): number => Math.ceil(n / BLOCK) * BLOCK;

/** Entries sorted by name, each header + data padded to 512, then two zero blocks. */
export function packEntries(entries: ArchiveEntry[]): Uint8Array {
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (let i = 0; i < sorted.length; i++) {
    assertSafeName(sorted[i]!.name);
    if (i > 0 && sorted[i]!.name === sorted[i - 1]!.name) throw new PipelineError('ARCHIVE_INVALID', `duplicate entry ${sorted[i]!.name}`);
  }
  const total = sorted.reduce((s, e) => s + BLOCK + padTo(e.data.byteLength), 0) + 2 * BLOCK;
  const out = new Uint8Array(total);
  let off = 0;
  for (const e of sorted) {
    out.set(header(e.name, e.data.byteLength), off);
    off += BLOCK;
    out.set(e.data, off);
    off += padTo(e.data.byteLength);
  }
  return out;
}

/** Packs every regular file of `dir` (no subdirectories, links or other kinds: refused). */
export async function packDirectory(dir: string): Promise<Uint8Array> {
  const names = (await readdir(dir)).sort();
  const entries: ArchiveEntry[] = [];
  for (const name of names) {
    const st = await stat(join(dir, name));
    if (!st.isFile()) throw new PipelineError('ARCHIVE_INVALID', `${join(dir, name)} is not a regular file; a student directory holds only files`);
    const buf = await readFile(join(dir, name));
    entries.push({ name, data: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) });
  }
  if (entries.length === 0) throw new PipelineError('ARCHIVE_INVALID', `${dir} is empty`);
  return packEntries(entries);
}

function readString(buf: Uint8Array, offset: number, length: number): string {
  const field = buf.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return Buffer.from(end < 0 ? field : field.subarray(0, end)).toString('ascii');
}

function readOctal(buf: Uint8Array, offset: number, length: number, what: string): number {
  const s = readString(buf, offset, length).trim();
  if (!/^[0-7]+$/.test(s)) throw new PipelineError('ARCHIVE_INVALID', `corrupt tar header: ${what} field ${JSON.stringify(s)}`);
  return parseInt(s, 8);
}

/** Parses a ustar archive of plain regular files; anything else (links, dirs, paths) is refused. */
export function unpackEntries(archive: Uint8Array): ArchiveEntry[] {
  const entries: ArchiveEntry[] = [];
  let off = 0;
  while (off + BLOCK <= archive.byteLength) {
    const h = archive.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) return entries;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
    if (sum !== readOctal(h, 148, 8, 'checksum')) throw new PipelineError('ARCHIVE_INVALID', `corrupt tar header at byte ${off}: bad checksum`);
    const name = readString(h, 0, 100);
    const type = h[156];
    if (type !== 0x30 && type !== 0) throw new PipelineError('ARCHIVE_INVALID', `archive entry ${JSON.stringify(name)} is not a regular file`);
    assertSafeName(name);
    const size = readOctal(h, 124, 12, 'size');
    off += BLOCK;
    if (off + size > archive.byteLength) throw new PipelineError('ARCHIVE_INVALID', `archive truncated in ${name}`);
    entries.push({ name, data: archive.slice(off, off + size) });
    off += padTo(size);
  }
  throw new PipelineError('ARCHIVE_INVALID', 'archive has no end-of-archive marker (truncated?)');
}
