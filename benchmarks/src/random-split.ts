// Random CIFAR-shaped data for the end-to-end benchmarks (Node and the in-page bench): the
// pipeline is the trainer's, and the values don't change the cost. No Node built-ins.

import { Rng } from '@wgtorch/tensor';
import type { CifarSplit } from '@wgtorch/resnet20/browser';

/** n random 32x32x3 images with random labels, reproducible for a seed. */
export function randomSplit(n: number, seed: number): CifarSplit {
  const rng = new Rng(seed);
  const words = new Uint32Array((n * 3072) / 4);
  for (let i = 0; i < words.length; i++) words[i] = rng.nextU32();
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) labels[i] = rng.int(10);
  return { n, images: new Uint8Array(words.buffer), labels } as CifarSplit;
}

/** The median of a non-empty list. */
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
