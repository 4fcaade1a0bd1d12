// Test helpers of the training loop's tests (not exported by the package).
import { Rng } from '@wgtorch/tensor';
import type { CifarSplit } from '../data/format.js';

/** `n` images of random bytes with random labels, the same for a seed. */
export function randomSplit(n: number, seed: number): CifarSplit {
  const rng = new Rng(seed);
  const images = new Uint8Array(n * 3072).map(() => rng.int(256));
  const labels = new Uint8Array(n).map(() => rng.int(10));
  return { n, images, labels } as CifarSplit;
}
