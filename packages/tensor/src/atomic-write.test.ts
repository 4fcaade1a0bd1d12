// writeFileAtomic either replaces the file with every byte or leaves the old one untouched,
// with no temporary file behind and an error naming the path and the system's message.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileWriteError, readSafetensors, writeFileAtomic, writeSafetensors } from './node-files.js';

// Faults injected into node:fs as node-files.ts sees it; null passes the call through.
const fault = vi.hoisted(() => ({
  writeSync: null as null | ((fd: number, buf: Uint8Array, off?: number, len?: number) => number),
  fsyncSync: null as null | ((fd: number) => void),
}));
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  return {
    ...real,
    writeSync: (fd: number, buf: Uint8Array, off?: number, len?: number) =>
      (fault.writeSync ?? real.writeSync)(fd, buf, off, len),
    fsyncSync: (fd: number) => (fault.fsyncSync ?? real.fsyncSync)(fd),
  };
});

const realFs = await vi.importActual<typeof import('node:fs')>('node:fs');

const oldBytes = new Uint8Array(1000).map((_, i) => i % 251);
const newBytes = new Uint8Array(300_000).map((_, i) => (i * 7) % 253);

const folders: string[] = [];
const tempFolder = () => {
  folders.push(fs.mkdtempSync(join(tmpdir(), 'atomic-')));
  return folders[folders.length - 1];
};
afterAll(() => folders.forEach((f) => fs.rmSync(f, { recursive: true, force: true })));

/** A folder holding `ckpt.bin` with the old bytes. */
function withOldFile(root = tempFolder()): { dir: string; path: string } {
  const path = join(root, 'ckpt.bin');
  fs.writeFileSync(path, oldBytes);
  return { dir: root, path };
}

/** The old file is intact and alone in its folder (no temporary file left). */
function expectUntouched(dir: string, path: string): void {
  expect(Buffer.compare(fs.readFileSync(path), Buffer.from(oldBytes))).toBe(0);
  expect(fs.readdirSync(dir)).toEqual(['ckpt.bin']);
}

function errorOf(f: () => void): FileWriteError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(FileWriteError);
    return e as FileWriteError;
  }
  throw new Error('expected writeFileAtomic to throw');
}

describe('writeFileAtomic with injected faults', () => {
  it('writes every byte when the system accepts a few at a time', () => {
    const { dir, path } = withOldFile();
    fault.writeSync = (fd, buf, off = 0, len = buf.length - off) =>
      realFs.writeSync(fd, buf, off, Math.min(len, 4096 + 13));
    try {
      writeFileAtomic(path, newBytes);
    } finally {
      fault.writeSync = null;
    }
    expect(Buffer.compare(fs.readFileSync(path), Buffer.from(newBytes))).toBe(0);
    expect(fs.readdirSync(dir)).toEqual(['ckpt.bin']);
  });

  it('a disk that fills up mid-file leaves the old file and no temporary file', () => {
    const { dir, path } = withOldFile();
    let written = 0;
    fault.writeSync = (fd, buf, off = 0, len = buf.length - off) => {
      if (written >= 100_000)
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      const n = realFs.writeSync(fd, buf, off, Math.min(len, 100_000 - written));
      written += n;
      return n;
    };
    let e: FileWriteError;
    try {
      e = errorOf(() => writeFileAtomic(path, newBytes));
    } finally {
      fault.writeSync = null;
    }
    expect(e.message).toBe(
      `Could not write ${path}: ENOSPC: no space left on device, write. ` +
        'The previous ckpt.bin, if there was one, is unchanged.',
    );
    expect([e.path, e.code]).toEqual([path, 'ENOSPC']);
    expectUntouched(dir, path);
  });

  it('a write that makes no progress, or a failing fsync, is an error too', () => {
    const { dir, path } = withOldFile();
    fault.writeSync = () => 0;
    try {
      expect(errorOf(() => writeFileAtomic(path, newBytes)).message).toMatch(
        `Could not write ${path}: the system wrote 0 of the remaining 300000 bytes.`,
      );
    } finally {
      fault.writeSync = null;
    }
    expectUntouched(dir, path);
    fault.fsyncSync = () => {
      throw Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
    };
    try {
      expect(errorOf(() => writeFileAtomic(path, 'new text')).message).toMatch(
        `Could not write ${path}: EIO: i/o error, fsync.`,
      );
    } finally {
      fault.fsyncSync = null;
    }
    expectUntouched(dir, path);
  });

  it('a folder at the path, or a missing parent folder, is refused with the path named and nothing left behind', () => {
    const dir = tempFolder();
    fs.mkdirSync(join(dir, 'out'));
    const e = errorOf(() => writeSafetensors(join(dir, 'out'), { w: { shape: [2], data: new Float32Array(2) } }));
    expect(e.message).toBe(`Could not write ${join(dir, 'out')}: it is a folder; give the path of a file.`);
    expect(fs.readdirSync(dir)).toEqual(['out']);
    expect(fs.readdirSync(join(dir, 'out'))).toEqual([]);
    expect(errorOf(() => writeFileAtomic(join(dir, 'none', 'a.bin'), 'x')).message).toMatch(
      `Could not write ${join(dir, 'none', 'a.bin')}: ENOENT: no such file or directory`,
    );
  });
});

// A real full disk: a 1 MiB tmpfs (needs root, as in CI).
describe('writeFileAtomic on a full tmpfs', () => {
  const mountPoint = fs.mkdtempSync(join(tmpdir(), 'atomic-tmpfs-'));
  let mountError = '';
  beforeAll(() => {
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint], { stdio: 'pipe' });
    } catch (e) {
      mountError = String((e as { stderr?: Buffer }).stderr ?? e).trim();
    }
  });
  afterAll(() => {
    if (!mountError) execFileSync('umount', [mountPoint]);
    fs.rmSync(mountPoint, { recursive: true, force: true });
  });

  it('keeps the old checkpoint when the new one does not fit', (ctx) => {
    if (mountError)
      ctx.skip(`cannot mount a tmpfs here (${mountError}); the injected-fault tests above cover the same paths`);
    const { dir, path } = withOldFile(fs.mkdtempSync(join(mountPoint, 'a-')));
    const big = new Uint8Array(1200 * 1024).fill(7);
    const e = errorOf(() => writeFileAtomic(path, big));
    expect(e.message).toMatch(new RegExp(`^Could not write ${path}: ENOSPC: no space left on device`));
    expect(e.code).toBe('ENOSPC');
    expectUntouched(dir, path);
  });

  it('a safetensors checkpoint that no longer fits leaves the previous one loadable', (ctx) => {
    if (mountError) ctx.skip(`cannot mount a tmpfs here (${mountError})`);
    const dir = fs.mkdtempSync(join(mountPoint, 'b-'));
    const path = join(dir, 'model.safetensors');
    writeSafetensors(path, { w: { shape: [4], data: new Float32Array([1, 2, 3, 4]) } });
    expect(() => writeSafetensors(path, { w: { shape: [300_000], data: new Float32Array(300_000) } })).toThrow(
      /^Could not write .*model\.safetensors: ENOSPC/,
    );
    expect(Array.from(readSafetensors(path).tensors.get('w')!.data as Float32Array)).toEqual([1, 2, 3, 4]);
    expect(fs.readdirSync(dir)).toEqual(['model.safetensors']);
  });
});
