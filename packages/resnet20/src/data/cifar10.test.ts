import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
  closeSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CIFAR10_FILES,
  CIFAR10_MEAN,
  CifarDataError,
  FILE_BYTES,
  RECORD_BYTES,
  TEST_FILES,
  TRAIN_FILES,
  locateCifar10,
  readCifarFiles,
  verifyCifar10,
} from './index.js';
import { cifarDir } from './testing.js';

const real = await cifarDir();
let tmp: string;
let cacheRoot: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'wgtorch-cifar-test-'));
  cacheRoot = join(tmp, 'cache');
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function freshDir(name: string): string {
  const d = join(tmp, name);
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d, { recursive: true });
  return d;
}

/** A folder with all six names: size-correct sparse zero files (fast, no real data needed). */
function sparseSet(name: string): string {
  const d = freshDir(name);
  for (const f of CIFAR10_FILES) {
    const p = join(d, f.name);
    writeFileSync(p, '');
    truncateSync(p, FILE_BYTES);
  }
  return d;
}

describe('verifyCifar10 refuses bad data', () => {
  it('a missing file: names it, the expected size and the fix', () => {
    const d = freshDir('missing');
    const err = (() => {
      try {
        verifyCifar10(d, { cacheRoot });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toBeInstanceOf(CifarDataError);
    expect(err!.message).toContain(join(d, 'data_batch_1.bin'));
    expect(err!.message).toMatch(/is missing \(expected 30730000 bytes\)/);
    expect(err!.message).toMatch(/--data-dir or CIFAR10_DIR/);
  });

  it('a truncated file and a too-large file: names it, its size and the expected size', () => {
    const d = sparseSet('truncated');
    truncateSync(join(d, 'data_batch_3.bin'), 10 * RECORD_BYTES + 7);
    expect(() => verifyCifar10(d, { cacheRoot })).toThrow(
      /data_batch_3\.bin is truncated: 30737 bytes, expected exactly 30730000/,
    );
    truncateSync(join(d, 'data_batch_3.bin'), FILE_BYTES);
    truncateSync(join(d, 'test_batch.bin'), FILE_BYTES + 1);
    expect(() => verifyCifar10(d, { cacheRoot })).toThrow(
      /test_batch\.bin is too large: 30730001 bytes, expected exactly 30730000/,
    );
  });

  it('right size, wrong content: names the file and the expected sha256', () => {
    const d = sparseSet('zeros');
    const want = CIFAR10_FILES[5].sha256;
    expect(() => verifyCifar10(d, { cacheRoot, files: ['test_batch.bin'] })).toThrow(
      new RegExp(`test_batch\\.bin is corrupt: its sha256 is [0-9a-f]{64}, expected ${want}`),
    );
  });

  it('a bad label byte is refused when reading', () => {
    const d = freshDir('labels');
    const bytes = new Uint8Array(FILE_BYTES);
    bytes[5 * RECORD_BYTES] = 10;
    writeFileSync(join(d, 'data_batch_1.bin'), bytes);
    expect(() => readCifarFiles(d, ['data_batch_1.bin'])).toThrow(/record 5 has label 10, expected 0\.\.9/);
  });

  it('an explicit --data-dir that is bad is refused, not replaced by another source', async () => {
    const d = sparseSet('explicit');
    truncateSync(join(d, 'data_batch_2.bin'), 100);
    await expect(locateCifar10({ dataDir: d, cacheRoot, progress: false, log: () => {} })).rejects.toThrow(
      /data_batch_2\.bin is truncated/,
    );
    await expect(
      locateCifar10({ dataDir: join(tmp, 'nope'), cacheRoot, progress: false, log: () => {} }),
    ).rejects.toThrow(/folder given by --data-dir .* does not exist/);
  });

  it('nothing anywhere and fetching off: a clear error naming the places looked at', async () => {
    const saved = process.env.CIFAR10_DIR;
    delete process.env.CIFAR10_DIR;
    try {
      await expect(
        locateCifar10({
          cacheRoot: join(tmp, 'empty-cache'),
          download: false,
          npm: false,
          progress: false,
          log: () => {},
        }),
      ).rejects.toThrow(/no data found \(looked at --data-dir, CIFAR10_DIR and .*empty-cache\/cifar-10-batches-bin\)/);
    } finally {
      if (saved !== undefined) process.env.CIFAR10_DIR = saved;
    }
  });
});

describe('the real CIFAR-10 files', () => {
  it('verify once (sha256), then the marker makes it instant; a changed file is hashed again and refused', () => {
    const root = join(tmp, 'marker-cache');
    let hashed = 0;
    verifyCifar10(real, { cacheRoot: root, force: true, onProgress: (d) => (hashed = d) });
    expect(hashed).toBe(6 * FILE_BYTES);
    hashed = 0;
    const t0 = performance.now();
    verifyCifar10(real, { cacheRoot: root, onProgress: (d) => (hashed = d) });
    expect(hashed).toBe(0);
    expect(performance.now() - t0).toBeLessThan(200);

    // Five good files by symlink, one copied and verified, then one byte flipped.
    const d = freshDir('flipped');
    for (const f of CIFAR10_FILES.slice(0, 5)) symlinkSync(join(real, f.name), join(d, f.name));
    const copy = join(d, 'test_batch.bin');
    copyFileSync(join(real, 'test_batch.bin'), copy);
    verifyCifar10(d, { cacheRoot: root });
    const fd = openSync(copy, 'r+');
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, 12345);
    b[0] ^= 1;
    writeSync(fd, b, 0, 1, 12345);
    closeSync(fd);
    // an edit within the same mtime tick still changes the key
    utimesSync(copy, new Date(), new Date(Date.now() + 5000));
    expect(() => verifyCifar10(d, { cacheRoot: root })).toThrow(
      new RegExp(`test_batch\\.bin is corrupt: its sha256 is [0-9a-f]{64}, expected ${CIFAR10_FILES[5].sha256}`),
    );
  });

  it('loads 50000 + 10000 images in the original order with the published statistics', async () => {
    const saved = process.env.CIFAR10_DIR;
    delete process.env.CIFAR10_DIR;
    try {
      const dir = await locateCifar10({
        dataDir: real,
        cacheRoot: join(tmp, 'marker-cache'),
        progress: false,
        log: () => {},
      });
      const train = readCifarFiles(dir, TRAIN_FILES);
      const test = readCifarFiles(dir, TEST_FILES);
      expect(train.n).toBe(50000);
      expect(test.n).toBe(10000);
      expect([...train.labels.subarray(0, 10)]).toEqual([6, 9, 9, 4, 1, 1, 2, 7, 8, 3]);
      expect([...test.labels.subarray(0, 10)]).toEqual([3, 8, 8, 0, 6, 6, 1, 6, 3, 1]);
      const counts = new Array(10).fill(0);
      for (const l of train.labels) counts[l]++;
      expect(counts).toEqual(new Array(10).fill(5000));
      // Per-channel mean of pixels / 255 over the training set (planar layout: channel = (i / 1024) % 3).
      const sums = [0, 0, 0];
      for (let img = 0; img < train.n; img++) {
        for (let c = 0; c < 3; c++) {
          const o = img * 3072 + c * 1024;
          let s = 0;
          for (let p = 0; p < 1024; p++) s += train.images[o + p];
          sums[c] += s;
        }
      }
      sums.forEach((s, c) => expect(s / (train.n * 1024 * 255)).toBeCloseTo(CIFAR10_MEAN[c], 4));
    } finally {
      if (saved !== undefined) process.env.CIFAR10_DIR = saved;
    }
  });
});
