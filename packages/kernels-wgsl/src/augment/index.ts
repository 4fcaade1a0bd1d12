// GPU data augmentation: uint8 image batches to normalized f32, with random crop and flip.
import { releaseOnThrow } from '@wgtorch/tensor';
import * as launchers from './augment.js';

export { packBytes, packedWords, type AugmentOptions, type NormalizeOptions } from './augment.js';
// Launchers are wrapped so that one that throws releases the tensors it made (releaseOnThrow).
export const augmentBatch = releaseOnThrow(launchers.augmentBatch);
export const normalizeBatch = releaseOnThrow(launchers.normalizeBatch);
export { augmentBatchRef, normalizeBatchRef } from './reference.js';
export { augmentKernel } from './kernel.js';
