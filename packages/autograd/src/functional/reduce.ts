// Reductions over dims (sum, mean, max, min, amax, amin, argmax, argmin, logsumexp, var, std,
// prod), and softmax / logSoftmax over any dim.

import { Tensor as DeviceTensor, formatShape, sizeOf } from '@wgtorch/tensor';
import type { F64 } from '@wgtorch/kernels-wgsl';
import type { Raw } from '../backend.js';
import { apply, defineOp, noGrad, Tensor } from '../tensor.js';
import { addTensorMethods, axesOf, expandTo, fromOutput, andThen } from './common.js';
import { maximum, minimum } from './elementwise.js';
import { reshape } from './shape.js';

const sumOp = defineOp<{ axes: number[]; keepdim: boolean; scale: number }>({
  name: 'sum',
  forward: (b, [x], { axes, keepdim, scale }) => {
    const s = b.k.sum(x, axes, keepdim);
    return { y: scale === 1 ? s : andThen(b, s, (t) => b.k.scale(t, scale)) };
  },
  backward: (b, dy, { attrs, shapes }) => {
    const keepShape = shapes[0].map((d, i) => (attrs.axes.includes(i) ? 1 : d));
    return [andThen(b, b.view(dy, keepShape), (v) => expandTo(b, v, shapes[0], attrs.scale))];
  },
});

/** Sum over `dim` (a dim or a list; all dims when omitted). */
export function sum(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  return apply(sumOp, [x], { axes: axesOf('sum', x, dim), keepdim, scale: 1 });
}

/** Mean over `dim` (a dim or a list; all dims when omitted). */
export function mean(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  const axes = axesOf('mean', x, dim);
  const n = axes.reduce((a, d) => a * x.shape[d], 1);
  return apply(sumOp, [x], { axes, keepdim, scale: 1 / n });
}

// ---- max, min, amax, amin, argmax, argmin ----

type Extreme = 'max' | 'min';

const extremeOp = defineOp<{ op: Extreme; axes: number[]; keepdim: boolean }>({
  name: 'maxMin',
  forward: (b, [x], { op, axes, keepdim }, record) => {
    const y = op === 'max' ? b.k.max(x, axes, keepdim) : b.k.min(x, axes, keepdim);
    return { y, saved: record ? [b.retain(x), b.retain(y)] : [] };
  },
  // PyTorch 1.13's max()/min() (evenly_distribute_backward) and amax/amin: the gradient is
  // shared evenly among the elements equal to the result (the NaNs when the result is NaN).
  backward: (b, dy, { saved: [x, y], attrs: { axes }, shapes }) => {
    const keepShape = shapes[0].map((d, i) => (axes.includes(i) ? 1 : d));
    const mask = b.k.tieMask(x, y, axes);
    const count = b.k.sum(mask, axes, true);
    const dyKeep = b.view(dy, keepShape);
    const share = b.k.div(dyKeep, count);
    b.release(dyKeep);
    b.release(count);
    const dx = b.k.mul(mask, share);
    b.release(mask);
    b.release(share);
    return [dx];
  },
});

const extremeDimOp = defineOp<{ op: Extreme; dim: number; keepdim: boolean; sink: { indices?: Raw } }>({
  name: 'maxMinDim',
  forward: (b, [x], { op, dim, keepdim, sink }, record) => {
    const { values, indices } = op === 'max' ? b.k.maxDim(x, dim, keepdim) : b.k.minDim(x, dim, keepdim);
    sink.indices = indices;
    return { y: values, saved: record ? [b.retain(indices)] : [] };
  },
  // The gradient goes to the index the forward picked (the first extreme, or the first NaN).
  backward: (b, dy, { saved: [indices], attrs: { dim }, shapes }) => [
    b.k.extremeDimBackward(dy, indices, [...shapes[0]], dim),
  ],
});

function refuseEmpty(op: string, x: Tensor, dim?: number): void {
  const empty = dim === undefined ? x.size === 0 : x.shape.length > 0 && x.shape[dim] === 0;
  if (empty)
    throw new Error(
      `${op}: ${dim === undefined ? 'x' : `dim ${dim} of x`} ${formatShape(x.shape)} is empty and ` +
        `${op} has no identity; reduce a non-empty tensor.`,
    );
}

function extreme(op: Extreme, x: Tensor, dim?: number, keepdim = false): Tensor | MaxMin {
  if (dim === undefined) {
    refuseEmpty(op, x);
    return apply(extremeOp, [x], { op, axes: axesOf(op, x, undefined), keepdim: false });
  }
  const d = oneDim(op, x, dim);
  refuseEmpty(op, x, d);
  return extremeAlong(op, x, d, keepdim);
}

/** Values and int32 indices along the (checked, non-negative) dim `d`. */
function extremeAlong(op: Extreme, x: Tensor, d: number, keepdim: boolean): MaxMin {
  const sink: { indices?: Raw } = {};
  const values = apply(extremeDimOp, [x], { op, dim: d, keepdim, sink });
  return { values, indices: new Tensor(sink.indices as DeviceTensor | F64, { dtype: 'int32' }) };
}

/** Values and int32 indices of max/min along a dim (PyTorch's torch.return_types.max). */
export interface MaxMin {
  values: Tensor;
  indices: Tensor;
}

/**
 * The largest element (a 0-d tensor) or, with `dim`, the largest along it with the index of its
 * first occurrence (int32). NaN propagates, and its index is reported. Without dim the gradient
 * is shared evenly among tied maxima (PyTorch 1.13's max()); with dim it goes to the index.
 * With a tensor in place of dim, the elementwise maximum (as torch.max(input, other)).
 */
export function max(x: Tensor): Tensor;
export function max(x: Tensor, dim: number, keepdim?: boolean): MaxMin;
export function max(x: Tensor, other: Tensor): Tensor;
export function max(x: Tensor, dim?: number | Tensor, keepdim = false): Tensor | MaxMin {
  return dim instanceof Tensor ? maximum(x, dim) : extreme('max', x, dim, keepdim);
}

/** The smallest element, or with `dim` the smallest along it and its index, or minimum(x, other); see max. */
export function min(x: Tensor): Tensor;
export function min(x: Tensor, dim: number, keepdim?: boolean): MaxMin;
export function min(x: Tensor, other: Tensor): Tensor;
export function min(x: Tensor, dim?: number | Tensor, keepdim = false): Tensor | MaxMin {
  return dim instanceof Tensor ? minimum(x, dim) : extreme('min', x, dim, keepdim);
}

/**
 * The largest values over `dim` (a dim, a list, or all); the gradient is shared among ties (where
 * the result is NaN, among the NaNs as max() does; PyTorch 1.13's amax gives NaN gradients there).
 */
export function amax(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  refuseEmpty('amax', x);
  return apply(extremeOp, [x], { op: 'max', axes: axesOf('amax', x, dim), keepdim });
}

/** The smallest values over `dim` (a dim, a list, or all); the gradient is shared among ties. */
export function amin(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  refuseEmpty('amin', x);
  return apply(extremeOp, [x], { op: 'min', axes: axesOf('amin', x, dim), keepdim });
}

function argExtreme(op: Extreme, name: string, x: Tensor, dim: number | undefined, keepdim: boolean): Tensor {
  const d = dim === undefined ? undefined : oneDim(name, x, dim);
  refuseEmpty(name, x, d);
  return noGrad(() => {
    // Without a dim: the index into the flattened tensor (keepdim ignored, as in PyTorch).
    const flat = d === undefined ? reshape(x, [x.size]) : x;
    try {
      const r = extremeAlong(op, flat, d ?? 0, d !== undefined && keepdim);
      r.values.dispose();
      return r.indices;
    } finally {
      if (flat !== x) flat.dispose();
    }
  });
}

/** Index (int32) of the first largest element along `dim`, or in the flattened tensor (keepdim then ignored). */
export function argmax(x: Tensor, dim?: number, keepdim = false): Tensor {
  return argExtreme('max', 'argmax', x, dim, keepdim);
}

/** Index (int32) of the first smallest element along `dim`, or in the flattened tensor. */
export function argmin(x: Tensor, dim?: number, keepdim = false): Tensor {
  return argExtreme('min', 'argmin', x, dim, keepdim);
}

/** `dim` made non-negative (0-d tensors take 0 or -1, as in PyTorch). */
function oneDim(op: string, x: Tensor, dim: number): number {
  const n = Math.max(1, x.ndim);
  if (!Number.isInteger(dim) || dim < -n || dim >= n)
    throw new Error(`${op}: dim ${dim} is out of range for ${formatShape(x.shape)}; use -${n}..${n - 1}.`);
  return dim < 0 ? dim + n : dim;
}

// ---- logsumexp, var, std, prod ----

const logsumexpOp = defineOp<{ axes: number[]; keepdim: boolean }>({
  name: 'logsumexp',
  forward: (b, [x], { axes, keepdim }, record) => {
    const y = b.k.logsumexp(x, axes, keepdim);
    return { y, saved: record ? [b.retain(x), b.retain(y)] : [] };
  },
  // dx = dy exp(x - y), y broadcast over the reduced dims.
  backward: (b, dy, { saved: [x, y], attrs: { axes }, shapes }) => {
    const keepShape = shapes[0].map((d, i) => (axes.includes(i) ? 1 : d));
    const yKeep = b.view(y, keepShape);
    const dyKeep = b.view(dy, keepShape);
    const e = andThen(b, b.k.sub(x, yKeep), (t) => b.k.unary('exp', t));
    const dx = b.k.mul(e, dyKeep);
    for (const t of [yKeep, dyKeep, e]) b.release(t);
    return [dx];
  },
});

/** log(sum(exp(x))) over `dim` (a dim, a list, or all), computed stably; -inf rows give -inf. */
export function logsumexp(x: Tensor, dim?: number | readonly number[], keepdim = false): Tensor {
  return apply(logsumexpOp, [x], { axes: axesOf('logsumexp', x, dim), keepdim });
}

const varianceOp = defineOp<{ axes: number[]; correction: number; keepdim: boolean; sqrt: boolean }>({
  name: 'var',
  forward: (b, [x], { axes, correction, keepdim, sqrt }, record) => {
    const y = sqrt ? b.k.std(x, axes, correction, keepdim) : b.k.variance(x, axes, correction, keepdim);
    return { y, saved: record ? [b.retain(x), b.retain(y)] : [] };
  },
  backward: (b, dy, { saved: [x, y], attrs: { axes, correction, sqrt } }) => [
    b.k.varianceBackward(dy, x, y, axes, correction, sqrt),
  ],
});

/**
 * Variance over `dim` (a dim, a list, or all), divided by n - 1 when `unbiased` (PyTorch's
 * default) or by n; NaN where that is 0. Exported as `var` too (PyTorch's name).
 */
export function variance(x: Tensor, dim?: number | readonly number[] | null, unbiased = true, keepdim = false): Tensor {
  const axes = axesOf('var', x, dim ?? undefined);
  return apply(varianceOp, [x], { axes, correction: unbiased ? 1 : 0, keepdim, sqrt: false });
}
export { variance as var };

/** Standard deviation over `dim` (a dim, a list, or all), unbiased by default; see var. */
export function std(x: Tensor, dim?: number | readonly number[] | null, unbiased = true, keepdim = false): Tensor {
  const axes = axesOf('std', x, dim ?? undefined);
  return apply(varianceOp, [x], { axes, correction: unbiased ? 1 : 0, keepdim, sqrt: true });
}

const prodOp = defineOp<{ dim: number; keepdim: boolean; all: boolean }>({
  name: 'prod',
  forward: (b, [x], { dim, keepdim, all }, record) => {
    const flat = all ? b.view(x, [sizeOf(b.shape(x))]) : b.retain(x);
    const y = b.k.prod(flat, all ? 0 : dim, keepdim);
    b.release(flat);
    return { y, saved: record ? [b.retain(x)] : [] };
  },
  // The product of the other terms, zeros included (one zero, several zeros).
  backward: (b, dy, { saved: [x], attrs: { dim, all }, shapes }) => {
    if (!all) return [b.k.prodBackward(dy, x, dim)];
    const flat = b.view(x, [sizeOf(shapes[0])]);
    const dx = andThen(b, b.k.prodBackward(dy, flat, 0), (g) => b.view(g, shapes[0]));
    b.release(flat);
    return [dx];
  },
});

/** Product of all elements (a 0-d tensor), or along `dim`; the gradient is right with zeros. */
export function prod(x: Tensor, dim?: number, keepdim = false): Tensor {
  if (dim === undefined) return apply(prodOp, [x], { dim: 0, keepdim: false, all: true });
  return apply(prodOp, [x], { dim: oneDim('prod', x, dim), keepdim, all: false });
}

// ---- softmax, logSoftmax ----

const softmaxOp = fromOutput(
  'softmax',
  (b, x) => b.k.softmax(x),
  (b, dy, y) => b.k.softmaxBackward(dy, y),
);

const logSoftmaxOp = fromOutput(
  'logSoftmax',
  (b, x) => b.k.logSoftmax(x),
  (b, dy, y) => b.k.logSoftmaxBackward(dy, y),
);

const softmaxDimOp = defineOp<{ dim: number; log: boolean }>({
  name: 'softmaxDim',
  forward: (b, [x], { dim, log }, record) => {
    const y = log ? b.k.logSoftmaxDim(x, dim) : b.k.softmaxDim(x, dim);
    return { y, saved: record ? [b.retain(y)] : [] };
  },
  backward: (b, dy, { saved: [y], attrs: { dim, log } }) => [
    log ? b.k.logSoftmaxDimBackward(dy, y, dim) : b.k.softmaxDimBackward(dy, y, dim),
  ],
});

/** Softmax over `dim` (default the last; the last dim runs the loss family's row kernel). */
export function softmax(x: Tensor, dim = -1): Tensor {
  const d = oneDim('softmax', x, dim);
  if (x.ndim > 0 && d === x.ndim - 1) return apply(softmaxOp, [x], undefined);
  return apply(softmaxDimOp, [x], { dim: d, log: false });
}

/** log(softmax(x)) over `dim` (default the last), computed stably. */
export function logSoftmax(x: Tensor, dim = -1): Tensor {
  const d = oneDim('logSoftmax', x, dim);
  if (x.ndim > 0 && d === x.ndim - 1) return apply(logSoftmaxOp, [x], undefined);
  return apply(softmaxDimOp, [x], { dim: d, log: true });
}

declare module '../tensor.js' {
  interface Tensor {
    /** Sum over `dim` (all dimensions when omitted). */
    sum(dim?: number | number[], keepdim?: boolean): Tensor;
    /** Mean over `dim` (all dimensions when omitted). */
    mean(dim?: number | number[], keepdim?: boolean): Tensor;
    /** The largest element, or with `dim` the largest values along it and their int32 indices. */
    max(): Tensor;
    max(dim: number, keepdim?: boolean): MaxMin;
    max(other: Tensor): Tensor;
    /** The smallest element, or with `dim` the smallest values along it and their int32 indices. */
    min(): Tensor;
    min(dim: number, keepdim?: boolean): MaxMin;
    min(other: Tensor): Tensor;
    /** The largest values over `dim` (all when omitted). */
    amax(dim?: number | number[], keepdim?: boolean): Tensor;
    /** The smallest values over `dim` (all when omitted). */
    amin(dim?: number | number[], keepdim?: boolean): Tensor;
    /** int32 index of the first largest element along `dim` (of the flattened tensor when omitted). */
    argmax(dim?: number, keepdim?: boolean): Tensor;
    /** int32 index of the first smallest element along `dim` (of the flattened tensor when omitted). */
    argmin(dim?: number, keepdim?: boolean): Tensor;
    /** log(sum(exp(x))) over `dim` (all when omitted), stably. */
    logsumexp(dim?: number | number[], keepdim?: boolean): Tensor;
    /** Variance over `dim` (all when omitted), unbiased by default. */
    var(dim?: number | number[] | null, unbiased?: boolean, keepdim?: boolean): Tensor;
    /** Standard deviation over `dim` (all when omitted), unbiased by default. */
    std(dim?: number | number[] | null, unbiased?: boolean, keepdim?: boolean): Tensor;
    /** Product of all elements, or along `dim`. */
    prod(dim?: number, keepdim?: boolean): Tensor;
    /** Softmax over `dim` (default the last). */
    softmax(dim?: number): Tensor;
    /** log(softmax) over `dim` (default the last). */
    logSoftmax(dim?: number): Tensor;
  }
}

addTensorMethods({
  sum(this: Tensor, dim?: number | number[], keepdim = false) {
    return sum(this, dim, keepdim);
  },
  mean(this: Tensor, dim?: number | number[], keepdim = false) {
    return mean(this, dim, keepdim);
  },
  max(this: Tensor, dim?: number | Tensor, keepdim = false) {
    return dim === undefined ? max(this) : dim instanceof Tensor ? max(this, dim) : max(this, dim, keepdim);
  },
  min(this: Tensor, dim?: number | Tensor, keepdim = false) {
    return dim === undefined ? min(this) : dim instanceof Tensor ? min(this, dim) : min(this, dim, keepdim);
  },
  amax(this: Tensor, dim?: number | number[], keepdim = false) {
    return amax(this, dim, keepdim);
  },
  amin(this: Tensor, dim?: number | number[], keepdim = false) {
    return amin(this, dim, keepdim);
  },
  argmax(this: Tensor, dim?: number, keepdim = false) {
    return argmax(this, dim, keepdim);
  },
  argmin(this: Tensor, dim?: number, keepdim = false) {
    return argmin(this, dim, keepdim);
  },
  logsumexp(this: Tensor, dim?: number | number[], keepdim = false) {
    return logsumexp(this, dim, keepdim);
  },
  var(this: Tensor, dim?: number | number[] | null, unbiased = true, keepdim = false) {
    return variance(this, dim, unbiased, keepdim);
  },
  std(this: Tensor, dim?: number | number[] | null, unbiased = true, keepdim = false) {
    return std(this, dim, unbiased, keepdim);
  },
  prod(this: Tensor, dim?: number, keepdim = false) {
    return prod(this, dim, keepdim);
  },
  softmax(this: Tensor, dim = -1) {
    return softmax(this, dim);
  },
  logSoftmax(this: Tensor, dim = -1) {
    return logSoftmax(this, dim);
  },
});
