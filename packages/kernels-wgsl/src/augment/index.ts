// GPU data augmentation: uint8 image batches to normalized f32, with random crop and flip.
import { releaseOnThrow } from '@wgtorch/tensor';
import * as launchers from './augment.js';

export { packBytes, packedWords, type AugmentOptions, type NormalizeOptions } from './augment.js';
// Launchers are wrapped so that one that throws releases the tensors it made (releaseOnThrow).
/**
 * Random crop (from the image zero-padded by `pad`) + horizontal flip + normalization:
 * out[n,c,y,x] = (P[n,c,y+dy,x'+dx] / 255 - mean[c]) / std[c], x' = flip ? size-1-x : x, where
 * P is the image padded with zeros by `pad` on each side. `crops` is i32 [n, 3] of (dx, dy, flip).
 * Returns f32 [n, 3, size, size].
 */
export const augmentBatch = releaseOnThrow(launchers.augmentBatch);
/** Normalization only (evaluation): out[n,c,y,x] = (image[n,c,y,x] / 255 - mean[c]) / std[c]. */
export const normalizeBatch = releaseOnThrow(launchers.normalizeBatch);
export { augmentBatchRef, normalizeBatchRef } from './reference.js';
export { augmentKernel } from './kernel.js';
