// GPU data augmentation: uint8 image batches to normalized f32, with random crop and flip.
import './bench.js';

export { augmentBatch, normalizeBatch, packBytes, packedWords, type AugmentOptions, type NormalizeOptions } from './augment.js';
export { augmentBatchRef, normalizeBatchRef } from './reference.js';
export { augmentKernel } from './kernel.js';
