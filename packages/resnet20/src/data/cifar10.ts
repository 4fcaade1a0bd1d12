// CIFAR-10, binary version: the known files, their verification and reading them into memory.
//
// Every file is checked for its exact size and sha256 before a byte of it is used. Hashing the
// 180 MB costs about a second, so a verified file is remembered in a small marker file
// (keyed by path, size, mtime and inode); a file that changes in any of those is hashed again.

import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '@wgtorch/tensor/node';
import {
  CIFAR10_DIRNAME,
  CIFAR10_FILES,
  CLASS_NAMES,
  CifarDataError,
  FILE_BYTES,
  RECORD_BYTES,
  RECORDS_PER_FILE,
  parseCifarRecords,
  type CifarSplit,
} from './format.js';

// The format (sizes, names, parsing) is portable and lives in format.ts; this file adds the Node side.
export {
  CHANNELS,
  CIFAR10_DIRNAME,
  CIFAR10_FILES,
  CIFAR10_MEAN,
  CIFAR10_STD,
  CLASS_NAMES,
  CifarDataError,
  FILE_BYTES,
  IMAGE_BYTES,
  IMAGE_SIZE,
  NUM_CLASSES,
  RECORD_BYTES,
  RECORDS_PER_FILE,
  TEST_FILES,
  TRAIN_FILES,
  parseCifarRecords,
  type CifarSplit,
} from './format.js';

/** What to do when the data is bad or missing; appended to every data error. */
export const FIX_HINT =
  'Point --data-dir or CIFAR10_DIR at a folder holding the official CIFAR-10 binary version ' +
  `(${CIFAR10_DIRNAME}/ from https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz), ` +
  `or delete the bad file (or ${defaultCacheRoot()}/${CIFAR10_DIRNAME}) so it is fetched again.`;

/** ~/.cache/wgtorch (or $XDG_CACHE_HOME/wgtorch). */
export function defaultCacheRoot(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg && xdg.startsWith('/') ? xdg : join(homedir(), '.cache'), 'wgtorch');
}

export interface VerifyOptions {
  /** Where the verified-marker lives (default: defaultCacheRoot()). */
  cacheRoot?: string;
  /** Ignore the marker and hash every file (default false). */
  force?: boolean;
  /** Only these files (default: all six). */
  files?: readonly string[];
  /** Called with (bytes hashed so far, total bytes to hash). */
  onProgress?: (done: number, total: number) => void;
  /** Record verified files in the marker (default true). */
  remember?: boolean;
}

interface Marker {
  [key: string]: string; // "realpath|size|mtimeMs|ino" -> sha256
}

function markerPath(cacheRoot: string): string {
  return join(cacheRoot, 'cifar10-verified.json');
}

function readMarker(cacheRoot: string): Marker {
  try {
    const m = JSON.parse(readFileSync(markerPath(cacheRoot), 'utf8')) as unknown;
    return m && typeof m === 'object' ? (m as Marker) : {};
  } catch {
    return {};
  }
}

function writeMarker(cacheRoot: string, m: Marker): void {
  try {
    mkdirSync(cacheRoot, { recursive: true });
    writeFileAtomic(markerPath(cacheRoot), JSON.stringify(m, null, 1));
  } catch {
    // A read-only home only costs a re-hash next time.
  }
}

/** sha256 of a file, read in 4 MiB chunks. */
export function sha256File(path: string, onChunk?: (bytes: number) => void): string {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(4 << 20);
  const fd = openSync(path, 'r');
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      onChunk?.(n);
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

function expectedSha(name: string): string {
  const f = CIFAR10_FILES.find((x) => x.name === name);
  if (!f) throw new Error(`verifyCifar10: unknown CIFAR-10 file '${name}'.`);
  return f.sha256;
}

/**
 * Checks that `dir` holds the official files with their exact sizes and sha256 sums; throws
 * CifarDataError naming the first bad file. Files verified before (same path, size, mtime,
 * inode) are not hashed again.
 */
export function verifyCifar10(dir: string, opts: VerifyOptions = {}): void {
  const names = opts.files ?? CIFAR10_FILES.map((f) => f.name);
  const cacheRoot = opts.cacheRoot ?? defaultCacheRoot();
  const marker = opts.force ? {} : readMarker(cacheRoot);
  const toHash: { name: string; path: string; key: string }[] = [];
  for (const name of names) {
    const path = join(dir, name);
    if (!existsSync(path)) {
      throw new CifarDataError(`CIFAR-10: ${path} is missing (expected ${FILE_BYTES} bytes). ${FIX_HINT}`, path);
    }
    const st = statSync(path);
    if (!st.isFile()) throw new CifarDataError(`CIFAR-10: ${path} is not a regular file. ${FIX_HINT}`, path);
    if (st.size !== FILE_BYTES) {
      const what = st.size < FILE_BYTES ? 'truncated' : 'too large';
      throw new CifarDataError(
        `CIFAR-10: ${path} is ${what}: ${st.size} bytes, expected exactly ${FILE_BYTES} ` +
          `(${RECORDS_PER_FILE} records of ${RECORD_BYTES} bytes). ${FIX_HINT}`,
        path,
      );
    }
    const key = markerKey(path);
    if (marker[key] !== expectedSha(name)) toHash.push({ name, path, key });
  }
  if (toHash.length === 0) return;
  const total = toHash.length * FILE_BYTES;
  let done = 0;
  for (const f of toHash) {
    const got = sha256File(f.path, (n) => {
      done += n;
      opts.onProgress?.(done, total);
    });
    const want = expectedSha(f.name);
    if (got !== want) {
      throw new CifarDataError(
        `CIFAR-10: ${f.path} is corrupt: its sha256 is ${got}, expected ${want} ` +
          `(size is right, content is not). ${FIX_HINT}`,
        f.path,
      );
    }
    marker[f.key] = got;
  }
  if (opts.remember === false) return;
  // Re-read so concurrent verifiers of other folders do not lose each other's entries.
  writeMarker(cacheRoot, {
    ...readMarker(cacheRoot),
    ...Object.fromEntries(toHash.map((f) => [f.key, marker[f.key]])),
  });
}

function markerKey(path: string): string {
  const st = statSync(path);
  return `${realpathSync(path)}|${st.size}|${st.mtimeMs}|${st.ino}`;
}

/** Marks the six files of `dir` as verified without hashing; only for files just checked under another path. */
export function rememberVerified(dir: string, cacheRoot = defaultCacheRoot()): void {
  const entries = CIFAR10_FILES.map((f) => [markerKey(join(dir, f.name)), f.sha256]);
  writeMarker(cacheRoot, { ...readMarker(cacheRoot), ...Object.fromEntries(entries) });
}

/** True when `dir` has all six files at their exact size (no hashing). */
export function looksLikeCifar10(dir: string): boolean {
  return CIFAR10_FILES.every((f) => {
    try {
      return statSync(join(dir, f.name)).size === FILE_BYTES;
    } catch {
      return false;
    }
  });
}

/** Reads record files (already verified) into one split, in file order. */
export function readCifarFiles(dir: string, names: readonly string[]): CifarSplit {
  return parseCifarRecords(
    names.map((name) => ({ name: join(dir, name), bytes: readFileSync(join(dir, name)) })),
    FIX_HINT,
  );
}

/** Class names from batches.meta.txt when present (blank lines ignored), else the standard ones. */
export function readClassNames(dir: string): string[] {
  try {
    const names = readFileSync(join(dir, 'batches.meta.txt'), 'utf8')
      .split(/\r?\n/)
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    if (names.length === 10) return names;
  } catch {
    // absent: the standard names
  }
  return [...CLASS_NAMES];
}
