// Squared error (a - b)^2 per element and its backward in one pass each: mseLoss's kernels for
// inputs of the same shape (the autograd composes broadcast ones from elementwise ops).

import { Tensor, formatShape } from '@wgtorch/tensor';
import { KernelArgumentError, sameShape } from '../common/errors.js';
import { defineKernel, memoKernel } from '../common/kernel.js';
import { checkF32, flatGrid, flatId } from '../elementwise/launch.js';
import type { Reduction } from './nll.js';

const WG = 256;

const forwardKernel = defineKernel({
  name: 'loss.squaredError',
  params: { n: 'u32' },
  bindings: { a: { type: 'f32' }, b: { type: 'f32' }, out: { type: 'f32', access: 'read_write' } },
  workgroupSize: WG,
  body: `  let i = ${flatId(WG)};
  let k = min(i, params.n - 1u);
  let d = a[k] - b[k];
  if (i < params.n) { out[i] = d * d; }`,
});

const backwardKernel = memoKernel((perElement: boolean) =>
  defineKernel({
    name: 'loss.squaredErrorBackward',
    params: { n: 'u32', scale: 'f32' },
    bindings: {
      dy: { type: 'f32' },
      a: { type: 'f32' },
      b: { type: 'f32' },
      da: { type: 'f32', access: 'read_write' },
      db: { type: 'f32', access: 'read_write' },
    },
    workgroupSize: WG,
    body: `  let i = ${flatId(WG)};
  let k = min(i, params.n - 1u);
  let g = 2.0 * (a[k] - b[k]) * ${perElement ? 'dy[k]' : 'dy[0]'} * params.scale;
  if (i < params.n) { da[i] = g; db[i] = -g; }`,
  }),
);

function checkPair(kernel: string, a: Tensor, b: Tensor): void {
  checkF32(kernel, 'a', a);
  checkF32(kernel, 'b', b);
  if (!sameShape(a.shape, b.shape))
    throw new KernelArgumentError(kernel, `a ${formatShape(a.shape)} and b ${formatShape(b.shape)} must match.`);
}

/** (a - b)^2 elementwise (a and b of one shape). */
export function squaredError(a: Tensor, b: Tensor): Tensor {
  checkPair('squaredError', a, b);
  const out = Tensor.empty(a.shape, 'f32', 'squaredError');
  if (a.size > 0) forwardKernel.launch({ a, b, out }, { n: a.size }, flatGrid(a.size, WG).groups);
  return out;
}

/**
 * Gradients { da, db } of squaredError reduced as `reduction` says: dy has a's shape for
 * 'none', else one value (the gradient of the mean or of the sum).
 */
export function squaredErrorBackward(
  dy: Tensor,
  a: Tensor,
  b: Tensor,
  reduction: Reduction,
): { da: Tensor; db: Tensor } {
  checkPair('squaredErrorBackward', a, b);
  checkF32('squaredErrorBackward', 'dy', dy);
  const perElement = reduction === 'none';
  if (perElement ? !sameShape(dy.shape, a.shape) : dy.size !== 1)
    throw new KernelArgumentError(
      'squaredErrorBackward',
      `dy ${formatShape(dy.shape)} must be ${perElement ? formatShape(a.shape) : 'one value'} ` +
        `for reduction '${reduction}'.`,
    );
  const da = Tensor.empty(a.shape, 'f32', 'squaredErrorBackward.da');
  const db = Tensor.empty(a.shape, 'f32', 'squaredErrorBackward.db');
  const scale = reduction === 'mean' ? 1 / a.size : 1;
  if (a.size > 0)
    backwardKernel(perElement).launch({ dy, a, b, da, db }, { n: a.size, scale }, flatGrid(a.size, WG).groups);
  return { da, db };
}
