// One batch onto the GPU: N*3072 image bytes (as u32 words), N*3 crop ints and N labels go up;
// the augment kernel turns them into the normalized f32 [N, 3, 32, 32] input.

import { Tensor } from '@wgtorch/tensor';
import { augmentBatch, normalizeBatch } from '@wgtorch/kernels-wgsl';
import { CIFAR10_MEAN, CIFAR10_STD } from './format.js';
import type { Batch } from './loader.js';

export interface GpuBatch {
  /** f32 [size, 3, 32, 32], normalized (and augmented for training batches). */
  readonly x: Tensor<'f32'>;
  /** i32 [size] class indices. */
  readonly labels: Tensor<'i32'>;
  readonly size: number;
  /** Disposes x and labels. */
  dispose(): void;
}

export interface UploadOptions {
  mean?: readonly number[];
  std?: readonly number[];
  /** Apply the batch's crop + flip (default: when the batch has crops, i.e. training batches). */
  augment?: boolean;
  /** Zero padding the crops were drawn for (default 4, as augmentParams). */
  pad?: number;
}

export function uploadBatch(batch: Batch, opts: UploadOptions = {}): GpuBatch {
  const augment = opts.augment ?? batch.crops !== undefined;
  if (augment && !batch.crops)
    throw new Error(`uploadBatch: augment requested but batch ${batch.step} has no crop parameters (a test batch?).`);
  const n = batch.size;
  const images = Tensor.fromArray(batch.packed, [batch.packed.length], 'u32');
  const crops = augment ? Tensor.fromArray(batch.crops!, [n, 3], 'i32') : undefined;
  const x = batchInput(images, crops, n, opts);
  crops?.dispose(); // released buffers are reused only by work ordered after this dispatch
  images.dispose();
  const labels = Tensor.fromArray(batch.labels, [n], 'i32');
  return {
    x,
    labels,
    size: n,
    dispose() {
      x.dispose();
      labels.dispose();
    },
  };
}

/**
 * The network's input f32 [n, 3, 32, 32] from uploaded image words and, for training batches,
 * crop parameters (then cropped, flipped and normalized; else only normalized).
 */
export function batchInput(
  images: Tensor<'u32'>,
  crops: Tensor<'i32'> | undefined,
  n: number,
  opts: UploadOptions = {},
): Tensor<'f32'> {
  const mean = opts.mean ?? CIFAR10_MEAN;
  const std = opts.std ?? CIFAR10_STD;
  return crops
    ? augmentBatch(images, crops, { mean, std, n, pad: opts.pad ?? 4 })
    : normalizeBatch(images, { mean, std, n });
}
