// Binary cross-entropy with logits (PyTorch's F.binary_cross_entropy_with_logits) in one pass
// forward and one backward, in PyTorch's stable form:
//   loss = weight * ((1 - t) * x + (1 + (posWeight - 1) * t) * (log(1 + exp(-|x|)) + max(-x, 0)))
// weight and posWeight are optional and broadcast over x as a suffix: element i reads
// weight[i % weight.size] (a [C] weight over [N, C], an [N, C] one over [N, C], or one value).

import { Tensor, formatShape } from '@wgtorch/tensor';
import { KernelArgumentError, sameShape } from '../common/errors.js';
import { defineKernel, memoKernel, type BindingDecl } from '../common/kernel.js';
import { checkF32, flatGrid, flatId } from '../elementwise/launch.js';
import type { Reduction } from './nll.js';

const WG = 256;
const f32In: BindingDecl = { type: 'f32' };
const f32Out: BindingDecl = { type: 'f32', access: 'read_write' };
const PARAMS = { n: 'u32', wMod: 'u32', pwMod: 'u32', scale: 'f32' } as const;

/** WGSL: the element's log-weight of the positive term and its weight. */
const weights = (hasW: boolean, hasPw: boolean) => `
  let lw = ${hasPw ? '1.0 + (posWeight[k % params.pwMod] - 1.0) * tv' : '1.0'};
  let w = ${hasW ? 'weight[k % params.wMod]' : '1.0'};`;

function bindings(first: Record<string, BindingDecl>, hasW: boolean, hasPw: boolean, out: string[]) {
  const b: Record<string, BindingDecl> = { ...first };
  if (hasW) b.weight = f32In;
  if (hasPw) b.posWeight = f32In;
  for (const o of out) b[o] = f32Out;
  return b;
}

// sp = log(1 + exp(-x)) without overflow for any x. Backward (PyTorch's form): d/dx = lw *
// sigmoid(x) - posWeight * t, d/dt = -x + (posWeight - 1) * sp; pw is posWeight * t.
const forwardKernel = memoKernel((hasW: boolean, hasPw: boolean) =>
  defineKernel({
    name: 'loss.bceWithLogits',
    params: PARAMS,
    bindings: bindings({ x: f32In, t: f32In }, hasW, hasPw, ['loss']),
    workgroupSize: WG,
    body: `  let i = ${flatId(WG)};
  let k = min(i, params.n - 1u);
  let xv = x[k];
  let tv = t[k];${weights(hasW, hasPw)}
  let sp = max(-xv, 0.0) + log(1.0 + exp(-abs(xv)));
  if (i < params.n) { loss[i] = w * ((1.0 - tv) * xv + lw * sp); }`,
  }),
);

const backwardKernel = memoKernel((hasW: boolean, hasPw: boolean, perElement: boolean) =>
  defineKernel({
    name: 'loss.bceWithLogitsBackward',
    params: PARAMS,
    bindings: bindings({ dy: f32In, x: f32In, t: f32In }, hasW, hasPw, ['dx', 'dt']),
    workgroupSize: WG,
    body: `  let i = ${flatId(WG)};
  let k = min(i, params.n - 1u);
  let xv = x[k];
  let tv = t[k];${weights(hasW, hasPw)}
  let g = w * ${perElement ? 'dy[k]' : 'dy[0]'} * params.scale;
  let sp = max(-xv, 0.0) + log(1.0 + exp(-abs(xv)));
  let sig = 1.0 / (1.0 + exp(-xv));
  let pw = lw - 1.0 + tv;
  if (i < params.n) {
    dx[i] = g * (lw * sig - pw);
    dt[i] = g * (${hasPw ? '(posWeight[k % params.pwMod] - 1.0) * sp' : '0.0'} - xv);
  }`,
  }),
);

/** The suffix period of a weight over x (its size), or an error naming the shapes. */
function periodOf(kernel: string, name: string, w: Tensor | null, x: Tensor): number {
  if (!w) return 1;
  checkF32(kernel, name, w);
  const s = [...w.shape];
  while (s.length && s[0] === 1) s.shift();
  const tail = x.shape.slice(x.shape.length - s.length);
  if (s.length > x.shape.length || !sameShape(s, tail))
    throw new KernelArgumentError(
      kernel,
      `${name} ${formatShape(w.shape)} must match the trailing dims of input ${formatShape(x.shape)} ` +
        '(expand it to the input shape otherwise).',
    );
  return Math.max(1, w.size);
}

function checkPair(kernel: string, x: Tensor, t: Tensor): void {
  checkF32(kernel, 'input', x);
  checkF32(kernel, 'target', t);
  if (!sameShape(x.shape, t.shape))
    throw new KernelArgumentError(
      kernel,
      `target ${formatShape(t.shape)} must have the input's shape ${formatShape(x.shape)}.`,
    );
}

/**
 * Per-element binary cross-entropy of logits x against targets t (same shape), weight and
 * posWeight optional (broadcast as trailing dims of x).
 */
export function bceWithLogits(x: Tensor, t: Tensor, weight: Tensor | null, posWeight: Tensor | null): Tensor {
  checkPair('bceWithLogits', x, t);
  const wMod = periodOf('bceWithLogits', 'weight', weight, x);
  const pwMod = periodOf('bceWithLogits', 'posWeight', posWeight, x);
  const loss = Tensor.empty(x.shape, 'f32', 'bceWithLogits');
  if (x.size === 0) return loss;
  const bufs: Record<string, Tensor> = { x, t, loss };
  if (weight) bufs.weight = weight;
  if (posWeight) bufs.posWeight = posWeight;
  const params = { n: x.size, wMod, pwMod, scale: 1 };
  forwardKernel(!!weight, !!posWeight).launch(bufs, params, flatGrid(x.size, WG).groups);
  return loss;
}

/**
 * Gradients { dx, dt } of bceWithLogits reduced as `reduction` says: dy has x's shape for
 * 'none', else one value (the gradient of the mean or of the sum).
 */
export function bceWithLogitsBackward(
  dy: Tensor,
  x: Tensor,
  t: Tensor,
  weight: Tensor | null,
  posWeight: Tensor | null,
  reduction: Reduction,
): { dx: Tensor; dt: Tensor } {
  checkPair('bceWithLogitsBackward', x, t);
  checkF32('bceWithLogitsBackward', 'dy', dy);
  const perElement = reduction === 'none';
  if (perElement ? !sameShape(dy.shape, x.shape) : dy.size !== 1)
    throw new KernelArgumentError(
      'bceWithLogitsBackward',
      `dy ${formatShape(dy.shape)} must be ${perElement ? formatShape(x.shape) : 'one value'} ` +
        `for reduction '${reduction}'.`,
    );
  const wMod = periodOf('bceWithLogitsBackward', 'weight', weight, x);
  const pwMod = periodOf('bceWithLogitsBackward', 'posWeight', posWeight, x);
  const dx = Tensor.empty(x.shape, 'f32', 'bceWithLogitsBackward.dx');
  const dt = Tensor.empty(x.shape, 'f32', 'bceWithLogitsBackward.dt');
  if (x.size === 0) return { dx, dt };
  const bufs: Record<string, Tensor> = { dy, x, t, dx, dt };
  if (weight) bufs.weight = weight;
  if (posWeight) bufs.posWeight = posWeight;
  const scale = reduction === 'mean' ? 1 / x.size : 1;
  const params = { n: x.size, wMod, pwMod, scale };
  backwardKernel(!!weight, !!posWeight, perElement).launch(bufs, params, flatGrid(x.size, WG).groups);
  return { dx, dt };
}
