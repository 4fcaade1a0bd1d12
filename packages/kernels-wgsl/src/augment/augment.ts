// Launchers: a uint8 image batch (uploaded packed as u32 words) to normalized f32 NCHW on the
// GPU, with or without random crop + flip. The trainer uploads N*3072 bytes and N*3 ints a step.

import { Tensor, formatShape } from '@wgtorch/tensor';
import { KernelArgumentError } from '../common/errors.js';
import { grid1d } from '../common/grid.js';
import { AUGMENT_WG, augmentKernel } from './kernel.js';

/** Options of normalizeBatch: per-channel mean and std, and the image size. */
export interface NormalizeOptions {
  /** Per-channel mean of pixels / 255, [r, g, b]. */
  mean: readonly [number, number, number] | readonly number[];
  /** Per-channel std of pixels / 255, [r, g, b]. */
  std: readonly [number, number, number] | readonly number[];
  /** Images in the batch. */
  n: number;
  /** Image side (default 32). */
  size?: number;
}

/** Options of augmentBatch: normalization plus the crop padding. */
export interface AugmentOptions extends NormalizeOptions {
  /** Zero padding on each side before the crop (default 4); crops hold offsets in [0, 2*pad]. */
  pad?: number;
}

/** Bytes of `n` images of 3 x size x size, and the u32 words that hold them. */
export function packedWords(n: number, size = 32): number {
  return Math.ceil((n * 3 * size * size) / 4);
}

/** Bytes as little-endian u32 words (a view when aligned, else a zero-padded copy), for upload as a 'u32' tensor. */
export function packBytes(bytes: Uint8Array): Uint32Array {
  if (bytes.byteOffset % 4 === 0 && bytes.length % 4 === 0)
    return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const words = new Uint32Array(Math.ceil(bytes.length / 4));
  new Uint8Array(words.buffer).set(bytes);
  return words;
}

function checkCommon(kernel: string, images: Tensor, opts: NormalizeOptions): { n: number; size: number } {
  const n = opts.n;
  const size = opts.size ?? 32;
  if (!Number.isInteger(n) || n < 0)
    throw new KernelArgumentError(kernel, `n must be a non-negative integer, got ${n}.`);
  if (!Number.isInteger(size) || size < 1)
    throw new KernelArgumentError(kernel, `size must be a positive integer, got ${size}.`);
  if (images.dtype !== 'u32') {
    throw new KernelArgumentError(
      kernel,
      `images must be a u32 tensor of uint8 pixels packed 4 per word, got ${images.dtype} ` +
        `${formatShape(images.shape)}; upload with Tensor.fromArray(packBytes(bytes), [words], 'u32').`,
    );
  }
  const words = packedWords(n, size);
  if (images.size !== words) {
    throw new KernelArgumentError(
      kernel,
      `images ${formatShape(images.shape)} holds ${images.size} words, but ${n} images of 3x${size}x${size} bytes ` +
        `need ${words} (ceil(${n}*${3 * size * size}/4)).`,
    );
  }
  for (const [name, v] of [
    ['mean', opts.mean],
    ['std', opts.std],
  ] as const) {
    if (v.length !== 3 || v.some((x) => !Number.isFinite(x))) {
      throw new KernelArgumentError(kernel, `${name} must be 3 finite numbers [r, g, b], got [${[...v].join(', ')}].`);
    }
  }
  if (opts.std.some((s) => s === 0))
    throw new KernelArgumentError(kernel, `std must be non-zero, got [${opts.std.join(', ')}].`);
  return { n, size };
}

function normParams(total: number, size: number, pad: number, mean: readonly number[], std: readonly number[]) {
  const scale = (c: number) => 1 / (255 * std[c]);
  const bias = (c: number) => -mean[c] / std[c];
  return {
    total,
    size,
    pad,
    scale0: scale(0),
    scale1: scale(1),
    scale2: scale(2),
    bias0: bias(0),
    bias1: bias(1),
    bias2: bias(2),
  };
}

/**
 * Random crop (from the image zero-padded by `pad`) + horizontal flip + normalization:
 * out[n,c,y,x] = (P[n,c,y+dy,x'+dx] / 255 - mean[c]) / std[c], x' = flip ? size-1-x : x, where
 * P is the image padded with zeros by `pad` on each side. `crops` is i32 [n, 3] of (dx, dy, flip).
 * Returns f32 [n, 3, size, size].
 */
export function augmentBatch(images: Tensor, crops: Tensor, opts: AugmentOptions): Tensor<'f32'> {
  const kernel = 'augmentBatch';
  const { n, size } = checkCommon(kernel, images, opts);
  const pad = opts.pad ?? 4;
  if (!Number.isInteger(pad) || pad < 0)
    throw new KernelArgumentError(kernel, `pad must be a non-negative integer, got ${pad}.`);
  if (crops.dtype !== 'i32' || crops.size !== n * 3) {
    throw new KernelArgumentError(
      kernel,
      `crops must be i32 [${n}, 3] of (dx, dy, flip), got ${crops.dtype} ${formatShape(crops.shape)}.`,
    );
  }
  const total = n * 3 * size * size;
  const out = Tensor.empty([n, 3, size, size], 'f32', kernel);
  if (total === 0) return out;
  augmentKernel(true, size % 4 === 0).launch(
    { images, crops, out },
    normParams(total, size, pad, opts.mean, opts.std),
    grid1d(size % 4 === 0 ? total / 4 : total, AUGMENT_WG),
  );
  return out;
}

/** Normalization only (evaluation): out[n,c,y,x] = (image[n,c,y,x] / 255 - mean[c]) / std[c]. */
export function normalizeBatch(images: Tensor, opts: NormalizeOptions): Tensor<'f32'> {
  const kernel = 'normalizeBatch';
  const { n, size } = checkCommon(kernel, images, opts);
  const total = n * 3 * size * size;
  const out = Tensor.empty([n, 3, size, size], 'f32', kernel);
  if (total === 0) return out;
  augmentKernel(false, size % 4 === 0).launch(
    { images, out },
    normParams(total, size, 0, opts.mean, opts.std),
    grid1d(size % 4 === 0 ? total / 4 : total, AUGMENT_WG),
  );
  return out;
}
