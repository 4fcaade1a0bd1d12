// Seeded epoch order, batches and augmentation parameters.
//
// Nothing here keeps generator state between steps: the order of epoch e is a permutation
// drawn from Rng(mix(seed, e)) and the augmentation of step s of epoch e from
// Rng(mix(seed, e, s)). So a resumed run needs only (seed, epoch, step) to see exactly the
// batches an uninterrupted run would have seen.

import { Rng } from '@wgtorch/tensor';
import { IMAGE_BYTES, NUM_CLASSES, type CifarSplit } from './format.js';

const ORDER_STREAM = 0x4f524452; // 'ORDR'
const AUGMENT_STREAM = 0x41554721; // 'AUG!'

/** Mixes integers into one 32-bit seed (murmur3-style finalizer per part). */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    // Split into two 32-bit halves so seeds up to 2^53 keep all their bits.
    const lo = p >>> 0;
    const hi = Math.floor(p / 4294967296) >>> 0;
    for (const w of [lo, hi]) {
      h = Math.imul(h ^ w, 0xcc9e2d51);
      h = ((h << 15) | (h >>> 17)) >>> 0;
      h = Math.imul(h, 0x1b873593);
      h ^= h >>> 16;
      h = Math.imul(h, 0x85ebca6b);
      h ^= h >>> 13;
    }
  }
  return h >>> 0;
}

/** The generator for epoch `epoch`'s order. */
export function orderRng(seed: number, epoch: number): Rng {
  return new Rng(mixSeed(ORDER_STREAM, seed, epoch));
}

/** The generator for the augmentation of one step. */
export function augmentRng(seed: number, epoch: number, step: number): Rng {
  return new Rng(mixSeed(AUGMENT_STREAM, seed, epoch, step));
}

/** A permutation of 0..n-1 for (seed, epoch); the same arguments give the same order. */
export function epochOrder(n: number, seed: number, epoch: number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  return orderRng(seed, epoch).shuffle(order);
}

/** Batches per epoch: floor(n / B) when dropping the last partial batch, else ceil. */
export function stepsPerEpoch(n: number, batchSize: number, dropLast: boolean): number {
  checkBatchSize(batchSize);
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}

export interface AugmentParamOptions {
  /** Zero padding on each side before the random crop (default 4; 0 disables the crop). */
  pad?: number;
  /** Random horizontal flip with probability 0.5 (default true). */
  flip?: boolean;
}

/**
 * Per-image augmentation parameters for one step: Int32Array [count * 3] of (dx, dy, flip),
 * dx and dy uniform in [0, 2*pad] (the crop's top-left corner in the padded image; pad means
 * no shift), flip 0 or 1 with probability 0.5. The layout `augmentBatch` takes.
 */
export function augmentParams(
  seed: number,
  epoch: number,
  step: number,
  count: number,
  opts: AugmentParamOptions = {},
): Int32Array {
  const pad = opts.pad ?? 4;
  const flip = opts.flip ?? true;
  const rng = augmentRng(seed, epoch, step);
  const out = new Int32Array(count * 3);
  for (let i = 0; i < count; i++) {
    // Always draw all three so turning one part off leaves the others unchanged.
    const dx = rng.int(2 * pad + 1);
    const dy = rng.int(2 * pad + 1);
    const f = rng.next() < 0.5 ? 1 : 0;
    out[i * 3] = dx;
    out[i * 3 + 1] = dy;
    out[i * 3 + 2] = flip ? f : 0;
  }
  return out;
}

/** Parameters that leave every image as it is (for tests: the identity of augmentBatch). */
export function identityParams(count: number, pad = 4): Int32Array {
  const out = new Int32Array(count * 3);
  for (let i = 0; i < count; i++) {
    out[i * 3] = pad;
    out[i * 3 + 1] = pad;
  }
  return out;
}

/** Copies the images at `indices` into one contiguous [count, 3, 32, 32] byte array. */
export function gatherImages(split: CifarSplit, indices: ArrayLike<number>, out?: Uint8Array): Uint8Array {
  const count = indices.length;
  const dst = out ?? new Uint8Array(count * IMAGE_BYTES);
  if (dst.length < count * IMAGE_BYTES) {
    throw new RangeError(`gatherImages: out holds ${dst.length} bytes, ${count} images need ${count * IMAGE_BYTES}.`);
  }
  const src = split.images;
  for (let i = 0; i < count; i++) {
    const j = indices[i];
    if (!(j >= 0 && j < split.n))
      throw new RangeError(`gatherImages: index ${j} outside the split's ${split.n} images.`);
    dst.set(src.subarray(j * IMAGE_BYTES, (j + 1) * IMAGE_BYTES), i * IMAGE_BYTES);
  }
  return dst;
}

/** The first `n` images of a split (views, no copy), e.g. for a short training run in CI. */
export function subsetSplit(split: CifarSplit, n: number): CifarSplit {
  if (!Number.isInteger(n) || n < 1 || n > split.n)
    throw new RangeError(`subsetSplit: n must be in 1..${split.n}, got ${n}.`);
  return { n, images: split.images.subarray(0, n * IMAGE_BYTES), labels: split.labels.subarray(0, n) };
}

/** One batch, ready to upload. */
export interface Batch {
  /** Epoch and step within it (0-based). */
  readonly epoch: number;
  readonly step: number;
  /** Images in this batch (B, or fewer for the last test batch). */
  readonly size: number;
  /** Indices into the split. */
  readonly indices: Uint32Array;
  /** [size, 3, 32, 32] bytes. */
  readonly images: Uint8Array;
  /** The same bytes as u32 words (4 bytes per word, little-endian): upload as a 'u32' tensor of size*768. */
  readonly packed: Uint32Array;
  readonly labels: Int32Array;
  /** [size * 3] (dx, dy, flip) for augmentBatch; absent for test batches. */
  readonly crops?: Int32Array;
}

function makeBatch(split: CifarSplit, epoch: number, step: number, indices: Uint32Array, crops?: Int32Array): Batch {
  const images = gatherImages(split, indices);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) labels[i] = split.labels[indices[i]];
  const packed = new Uint32Array(images.buffer, images.byteOffset, images.length / 4);
  return { epoch, step, size: indices.length, indices, images, packed, labels, crops };
}

/**
 * Throws naming the first label that is not a class index (an integer in 0..classes-1). Run
 * once per split on the CPU: a bad label on the GPU gives a NaN loss, not an error.
 */
export function checkLabels(labels: ArrayLike<number>, what: string, classes = NUM_CLASSES): void {
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (!(Number.isInteger(l) && l >= 0 && l < classes)) {
      throw new RangeError(
        `${what}: label ${l} at index ${i} is not a class index; ` +
          `there are ${classes} classes (labels 0..${classes - 1}).`,
      );
    }
  }
}

function checkBatchSize(b: number): void {
  if (!Number.isInteger(b) || b < 1) throw new RangeError(`batch size must be a positive integer, got ${b}.`);
}

export interface TrainLoaderOptions extends AugmentParamOptions {
  batchSize: number;
  seed: number;
}

/**
 * Training batches: shuffled per epoch, last partial batch dropped, with augmentation
 * parameters. Random access by (epoch, step), so resuming is `loader.epoch(e, step)`.
 */
export class TrainLoader {
  readonly batchSize: number;
  readonly seed: number;
  readonly steps: number;
  private readonly aug: AugmentParamOptions;
  private cachedEpoch = -1;
  private cachedOrder: Uint32Array | undefined;

  constructor(
    readonly split: CifarSplit,
    opts: TrainLoaderOptions,
  ) {
    checkBatchSize(opts.batchSize);
    if (opts.batchSize > split.n) {
      throw new RangeError(`TrainLoader: batch size ${opts.batchSize} exceeds the ${split.n} training images.`);
    }
    checkLabels(split.labels, 'TrainLoader');
    this.batchSize = opts.batchSize;
    this.seed = opts.seed;
    this.steps = stepsPerEpoch(split.n, opts.batchSize, true);
    this.aug = { pad: opts.pad ?? 4, flip: opts.flip ?? true };
  }

  /** The order of an epoch (cached for the current epoch). */
  order(epoch: number): Uint32Array {
    if (epoch !== this.cachedEpoch || !this.cachedOrder) {
      this.cachedOrder = epochOrder(this.split.n, this.seed, epoch);
      this.cachedEpoch = epoch;
    }
    return this.cachedOrder;
  }

  /** Batch `step` of `epoch`. */
  batch(epoch: number, step: number): Batch {
    if (!Number.isInteger(step) || step < 0 || step >= this.steps) {
      throw new RangeError(
        `TrainLoader.batch: step ${step} outside 0..${this.steps - 1} (${this.steps} steps per epoch).`,
      );
    }
    const B = this.batchSize;
    const indices = this.order(epoch).slice(step * B, (step + 1) * B);
    return makeBatch(this.split, epoch, step, indices, augmentParams(this.seed, epoch, step, B, this.aug));
  }

  /** The batches of an epoch from `startStep` on. */
  *epoch(epoch: number, startStep = 0): Generator<Batch> {
    for (let s = startStep; s < this.steps; s++) yield this.batch(epoch, s);
  }
}

/** Evaluation batches in the split's order, the last partial batch kept, no augmentation. */
export function* testBatches(split: CifarSplit, batchSize: number): Generator<Batch> {
  checkBatchSize(batchSize);
  checkLabels(split.labels, 'testBatches');
  const steps = stepsPerEpoch(split.n, batchSize, false);
  for (let s = 0; s < steps; s++) {
    const start = s * batchSize;
    const end = Math.min(split.n, start + batchSize);
    const indices = new Uint32Array(end - start);
    for (let i = 0; i < indices.length; i++) indices[i] = start + i;
    yield makeBatch(split, 0, s, indices);
  }
}
