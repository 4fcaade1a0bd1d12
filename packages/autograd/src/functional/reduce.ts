// Reductions over dims, and softmax.

import { formatShape } from '@wgtorch/tensor';
import { apply, defineOp, Tensor } from '../tensor.js';
import { addTensorMethods, axesOf, expandTo, fromOutput, andThen } from './common.js';

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

const softmaxOp = fromOutput(
  'softmax',
  (b, x) => b.k.softmax(x),
  (b, dy, y) => b.k.softmaxBackward(dy, y),
);

/** Softmax over the last dim (dim must be -1 or the last). */
export function softmax(x: Tensor, dim = -1): Tensor {
  lastDim('softmax', x, dim);
  return apply(softmaxOp, [x], undefined);
}

const logSoftmaxOp = fromOutput(
  'logSoftmax',
  (b, x) => b.k.logSoftmax(x),
  (b, dy, y) => b.k.logSoftmaxBackward(dy, y),
);

/** log(softmax(x)) over the last dim, computed stably. */
export function logSoftmax(x: Tensor, dim = -1): Tensor {
  lastDim('logSoftmax', x, dim);
  return apply(logSoftmaxOp, [x], undefined);
}

function lastDim(op: string, x: Tensor, dim: number): void {
  if (dim !== -1 && dim !== x.ndim - 1)
    throw new Error(
      `${op}: only the last dim is supported (got dim ${dim} for ${formatShape(x.shape)}); permute first.`,
    );
}

declare module '../tensor.js' {
  interface Tensor {
    /** Sum over `dim` (all dimensions when omitted). */
    sum(dim?: number | number[], keepdim?: boolean): Tensor;
    /** Mean over `dim` (all dimensions when omitted). */
    mean(dim?: number | number[], keepdim?: boolean): Tensor;
  }
}

addTensorMethods({
  sum(this: Tensor, dim?: number | number[], keepdim = false) {
    return sum(this, dim, keepdim);
  },
  mean(this: Tensor, dim?: number | number[], keepdim = false) {
    return mean(this, dim, keepdim);
  },
});
