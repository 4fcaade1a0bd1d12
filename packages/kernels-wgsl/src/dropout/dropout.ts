// Inverted dropout: y = x * keep / (1 - p), keep drawn per element from a counter-based hash of
// (seed, index) (hash.ts). Its backward is the same kernel on dy with the same seed, so no mask
// is stored between forward and backward.

import { Tensor } from '@wgtorch/tensor';
import { KernelArgumentError } from '../common/errors.js';
import { defineKernel } from '../common/kernel.js';
import { checkF32, flatGrid, flatId } from '../elementwise/launch.js';
import { HASH_WGSL, keepThreshold } from './hash.js';

const WG = 256;

// y = x * 0 where dropped (not a plain 0), so a NaN or infinite x gives NaN there, as PyTorch's
// x * mask * scale.
const dropoutKernel = defineKernel({
  name: 'dropout.apply',
  params: { n: 'u32', seed: 'u32', threshold: 'u32', scale: 'f32' },
  bindings: { x: { type: 'f32' }, y: { type: 'f32', access: 'read_write' } },
  helpers: HASH_WGSL,
  workgroupSize: WG,
  body: `  let i = ${flatId(WG)};
  let keep = (dropHash(params.seed, i) >> 8u) >= params.threshold;
  let k = min(i, params.n - 1u);
  let v = x[k] * select(0.0, params.scale, keep);
  if (i < params.n) { y[i] = v; }`,
});

/** Throws unless p is a probability and seed a u32. */
export function checkDropout(kernel: string, p: number, seed: number): void {
  if (!(p >= 0 && p <= 1)) throw new KernelArgumentError(kernel, `p must be a probability in [0, 1], got ${p}.`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw new KernelArgumentError(kernel, `seed must be an integer in [0, 2^32), got ${seed}.`);
}

/**
 * x with each element zeroed with probability p and the rest scaled by 1 / (1 - p) (all zeros
 * for p = 1). The mask depends only on (seed, element index): dropout(dy, p, seed) is the backward.
 */
export function dropout(x: Tensor, p: number, seed: number): Tensor {
  checkF32('dropout', 'x', x);
  checkDropout('dropout', p, seed);
  const y = Tensor.empty(x.shape, 'f32', 'dropout');
  if (x.size === 0) return y;
  const scale = p < 1 ? 1 / (1 - p) : 0;
  dropoutKernel.launch({ x, y }, { n: x.size, seed, threshold: keepThreshold(p), scale }, flatGrid(x.size, WG).groups);
  return y;
}
