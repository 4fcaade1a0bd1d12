// Shape ops: views, reorderings and joins.

import { formatShape, sizeOf } from '@wgtorch/tensor';
import { apply, defineOp, Tensor } from '../tensor.js';
import { addTensorMethods } from './common.js';

const reshapeOp = defineOp<{ shape: number[] }>({
  name: 'reshape',
  forward: (b, [x], { shape }) => ({ y: b.view(x, shape) }),
  backward: (b, dy, { shapes }) => [b.view(dy, shapes[0])],
});

function resolveShape(op: string, from: readonly number[], shape: readonly number[]): number[] {
  const size = sizeOf(from);
  const s = [...shape];
  const i = s.indexOf(-1);
  if (i >= 0) {
    const rest = s.reduce((a, d, j) => (j === i ? a : a * d), 1);
    s[i] = rest === 0 ? 0 : size / rest;
  }
  if (s.some((d) => !Number.isInteger(d) || d < 0) || sizeOf(s) !== size) {
    throw new Error(
      `${op}: cannot view ${formatShape(from)} (${size} elements) as ${formatShape(shape)}; ` +
        'the element counts must match.',
    );
  }
  return s;
}

/** The same data under another shape; -1 infers one dimension. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  return apply(reshapeOp, [x], { shape: resolveShape('reshape', x.shape, shape) });
}

/** Flattens dimensions startDim..endDim (inclusive; negative counts from the end) into one. */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  const n = x.ndim;
  const s = startDim < 0 ? startDim + n : startDim;
  const e = endDim < 0 ? endDim + n : endDim;
  if (s < 0 || e >= n || s > e)
    throw new Error(`flatten: dims ${startDim}..${endDim} are out of range for ${formatShape(x.shape)}.`);
  const shape = [...x.shape.slice(0, s), sizeOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)];
  return reshape(x, shape);
}

const transposeOp = defineOp({
  name: 'transpose',
  forward: (b, [x]) => ({ y: b.k.transpose2d(x) }),
  backward: (b, dy) => [b.k.transpose2d(dy)],
});

/** Transpose of a 2-D tensor. */
export function transpose(x: Tensor): Tensor {
  if (x.ndim !== 2)
    throw new Error(`transpose: expects a 2-D tensor, got ${formatShape(x.shape)}; use permute for more dimensions.`);
  return apply(transposeOp, [x], undefined);
}

const permuteOp = defineOp<{ dims: number[] }>({
  name: 'permute',
  forward: (b, [x], { dims }) => ({ y: b.k.permute(x, dims) }),
  backward: (b, dy, { attrs }) => {
    const inv = new Array<number>(attrs.dims.length);
    attrs.dims.forEach((d, i) => (inv[d] = i));
    return [b.k.permute(dy, inv)];
  },
});

/** Reorders the dimensions: output dim i is input dim dims[i]. */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  const sorted = [...dims].sort((a, b) => a - b);
  if (dims.length !== x.ndim || sorted.some((d, i) => d !== i)) {
    throw new Error(
      `permute: [${dims.join(', ')}] is not a permutation of the ${x.ndim} dims of ${formatShape(x.shape)}.`,
    );
  }
  return apply(permuteOp, [x], { dims: [...dims] });
}

declare module '../tensor.js' {
  interface Tensor {
    /** The same data under another shape (-1 infers one dimension). */
    reshape(shape: readonly number[]): Tensor;
    /** Flattens dimensions startDim..endDim into one. */
    flatten(startDim?: number, endDim?: number): Tensor;
    /** Transpose of a 2-D tensor. */
    t(): Tensor;
  }
}

addTensorMethods({
  reshape(this: Tensor, shape: readonly number[]) {
    return reshape(this, shape);
  },
  flatten(this: Tensor, startDim = 0, endDim = -1) {
    return flatten(this, startDim, endDim);
  },
  t(this: Tensor) {
    return transpose(this);
  },
});
