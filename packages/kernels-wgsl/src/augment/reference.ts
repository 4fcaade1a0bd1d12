// Float64 references of augmentBatch and normalizeBatch: same arguments, F64 in place of
// Tensor (images: the packed u32 words as numbers; crops: (dx, dy, flip) per image).

import type { F64 } from '../common/f64.js';
import type { AugmentOptions, NormalizeOptions } from './augment.js';

function byteAt(words: Float64Array, b: number): number {
  return (words[b >> 2] >>> ((b & 3) * 8)) & 0xff;
}

/** Float64 reference of augmentBatch on the CPU (what the tests check the kernel against). */
export function augmentBatchRef(images: F64, crops: F64 | undefined, opts: AugmentOptions): F64 {
  const n = opts.n;
  const size = opts.size ?? 32;
  const pad = crops ? (opts.pad ?? 4) : 0;
  const out = new Float64Array(n * 3 * size * size);
  let i = 0;
  for (let img = 0; img < n; img++) {
    const dx = crops ? crops.data[img * 3] : pad;
    const dy = crops ? crops.data[img * 3 + 1] : pad;
    const flip = crops ? crops.data[img * 3 + 2] !== 0 : false;
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++, i++) {
          // The padded image, cropped at (dx, dy), then flipped.
          const cx = flip ? size - 1 - x : x;
          const sx = cx + dx - pad;
          const sy = y + dy - pad;
          const inside = sx >= 0 && sx < size && sy >= 0 && sy < size;
          const v = inside ? byteAt(images.data, ((img * 3 + c) * size + sy) * size + sx) : 0;
          out[i] = (v / 255 - opts.mean[c]) / opts.std[c];
        }
      }
    }
  }
  return { data: out, shape: [n, 3, size, size] };
}

/** Float64 reference of normalizeBatch on the CPU (what the tests check the kernel against). */
export function normalizeBatchRef(images: F64, opts: NormalizeOptions): F64 {
  return augmentBatchRef(images, undefined, { ...opts, pad: 0 });
}
