// Indexing and masks: gather, indexSelect, where, maskedFill, comparisons.
//
// Indices are int32: an int32 tensor (an i32 device tensor on 'gpu', integer values on 'cpu64')
// or a plain (nested) array / Int32Array, as a PyTorch user passes a list. Indices that come
// from the CPU are checked against the dim's size; an out-of-range index already on the device
// reads as NaN (the kernel cannot throw). The backward of gather and indexSelect is a
// deterministic scatter-add (see kernels-wgsl indexing/indexing.ts).

import { Tensor as DeviceTensor, formatShape } from '@wgtorch/tensor';
import type { CompareOp } from '@wgtorch/kernels-wgsl';
import type { Backend, Raw } from '../backend.js';
import { apply, defineOp, full, tensor, Tensor, type Dtype, type TensorData } from '../tensor.js';
import { addTensorMethods, reduceTo, type Grads } from './common.js';

/** Index values: an int32 tensor, or integers as a PyTorch user passes a list (nested arrays, Int32Array). */
export type IndexLike = Tensor | TensorData;

/** `dim` made non-negative for x, or an error naming the op. */
function dimIn(op: string, x: Tensor, dim: number): number {
  const n = x.ndim;
  if (!Number.isInteger(dim) || dim < -n || dim >= n)
    throw new Error(
      `${op}: dim ${dim} is out of range for ${formatShape(x.shape)} (expected one in [${-n}, ${n - 1}]).`,
    );
  return dim < 0 ? dim + n : dim;
}

function checkValues(op: string, values: ArrayLike<number>, size: number, x: Tensor, dim: number): void {
  for (let i = 0; i < values.length; i++) {
    const k = values[i];
    if (!(k >= 0 && k < size))
      throw new Error(
        `${op}: index ${k} (element ${i}) is out of range for dim ${dim} of size ${size} of ${formatShape(x.shape)}; ` +
          `indices must be in [0, ${size}).`,
      );
  }
}

/**
 * The index as an int32 tensor on x's backend, its values checked where they are on the CPU;
 * `owned` when made here (the caller disposes it).
 */
function indexTensor(op: string, x: Tensor, dim: number, index: IndexLike): { t: Tensor; owned: boolean } {
  const size = x.shape[dim];
  if (index instanceof Tensor) {
    if (index.dtype !== 'int32')
      throw new Error(
        `${op}: index must be an int32 tensor, got ${index.dtype} ${formatShape(index.shape)}; ` +
          "make it with tensor(values, { dtype: 'int32' }) or pass a plain array of integers.",
      );
    const raw = index.raw;
    if (!(raw instanceof DeviceTensor)) checkValues(op, raw.data, size, x, dim);
    return { t: index, owned: false };
  }
  // tensor() parses nested arrays and refuses ragged or non-integer input.
  const host = tensor(index, { dtype: 'int32', backend: 'cpu64' });
  const { data, shape } = host.raw as { data: Float64Array; shape: number[] };
  checkValues(op, data, size, x, dim);
  if (x.backend === 'cpu64') return { t: host, owned: true };
  host.dispose();
  const t = new Tensor(DeviceTensor.fromArray(Int32Array.from(data), shape, 'i32'), { dtype: 'int32' });
  return { t, owned: true };
}

/** float32 x and an int32 index give float32. */
function indexDtype(op: string) {
  return ([x, index]: Dtype[]): Dtype => {
    if (x !== 'float32' || index !== 'int32')
      throw new Error(`${op}: takes a float32 tensor and an int32 index, got ${x} and ${index}.`);
    return 'float32';
  };
}

function withIndex(op: string, x: Tensor, dim: number, index: IndexLike, run: (idx: Tensor) => Tensor): Tensor {
  const { t, owned } = indexTensor(op, x, dim, index);
  try {
    return run(t);
  } finally {
    if (owned) t.dispose();
  }
}

const gatherOp = defineOp<{ dim: number }>({
  name: 'gather',
  dtype: indexDtype('gather'),
  forward: (b, [x, index], { dim }, record) => ({
    y: b.k.gather(x, dim, index),
    saved: record ? [b.retain(index)] : [],
  }),
  backward: (b, dy, { saved: [index], attrs, shapes }) => [b.k.gatherBackward(dy, index, attrs.dim, shapes[0]), null],
});

/**
 * out[i][j][k] = x[index[i][j][k]][j][k] for dim 0 (and so on), as torch.gather: index has x's
 * rank and no dim but `dim` larger than x's; the output has index's shape.
 */
export function gather(x: Tensor, dim: number, index: IndexLike): Tensor {
  const d = dimIn('gather', x, dim);
  return withIndex('gather', x, d, index, (idx) => {
    const ok = idx.ndim === x.ndim && idx.shape.every((n, i) => i === d || n <= x.shape[i]);
    if (!ok)
      throw new Error(
        `gather: index ${formatShape(idx.shape)} must have the rank of x ${formatShape(x.shape)} ` +
          `and no dim but ${dim} larger than x's.`,
      );
    return apply(gatherOp, [x, idx], { dim: d });
  });
}

const indexSelectOp = defineOp<{ dim: number }>({
  name: 'indexSelect',
  dtype: indexDtype('indexSelect'),
  forward: (b, [x, index], { dim }, record) => ({
    y: b.k.indexSelect(x, dim, index),
    saved: record ? [b.retain(index)] : [],
  }),
  backward: (b, dy, { saved: [index], attrs, shapes }) => [
    b.k.indexSelectBackward(dy, index, attrs.dim, shapes[0]),
    null,
  ],
});

/** The slices index[0], index[1], ... of x along `dim` (a 1-D index), as torch.index_select. */
export function indexSelect(x: Tensor, dim: number, index: IndexLike): Tensor {
  const d = dimIn('indexSelect', x, dim);
  return withIndex('indexSelect', x, d, index, (idx) => {
    if (idx.ndim !== 1) throw new Error(`indexSelect: index must be 1-D, got ${formatShape(idx.shape)}.`);
    return apply(indexSelectOp, [x, idx], { dim: d });
  });
}

// ---- masks -------------------------------------------------------------------------------------

const whereOp = defineOp({
  name: 'where',
  forward: (b, [cond, x, y], _a, record) => ({ y: b.k.where(cond, x, y), saved: record ? [b.retain(cond)] : [] }),
  backward: (b, dy, { saved: [cond], needs, shapes }): Grads => {
    const zero = b.k.fill([], 0);
    const dx = needs[1] ? reduceTo(b, b.k.where(cond, dy, zero), shapes[1]) : null;
    const dz = needs[2] ? reduceTo(b, b.k.where(cond, zero, dy), shapes[2]) : null;
    b.release(zero);
    return [null, dx, dz];
  },
});

/** x where cond is nonzero (NaN counts as nonzero), else y; all broadcast as PyTorch does. */
export function where(cond: Tensor, x: Tensor | number, y: Tensor | number): Tensor {
  const scalar = (v: Tensor | number) => (typeof v === 'number' ? full([], v, { backend: cond.backend }) : v);
  const [a, b] = [scalar(x), scalar(y)];
  try {
    return apply(whereOp, [cond, a, b], undefined);
  } finally {
    if (a !== x) a.dispose();
    if (b !== y) b.dispose();
  }
}

const maskedFillOp = defineOp<{ value: number }>({
  name: 'maskedFill',
  forward: (b, [x, mask], { value }, record) => ({
    y: b.k.maskedFill(x, mask, value),
    saved: record ? [b.retain(mask)] : [],
  }),
  backward: (b, dy, { saved: [mask] }) => [b.k.maskedFill(dy, mask, 0), null],
});

/** x with `value` where mask (broadcast to x's shape) is nonzero, as torch.masked_fill. */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  return apply(maskedFillOp, [x, mask], { value });
}

// ---- comparisons: float 0/1 masks, no gradient ----------------------------------------------------

// float32 or int32 inputs (argmax against labels) give a float32 mask; int32 ones are compared as
// floats, exact below 2^24. On cpu64 an int32 tensor already holds its integers as float64.
const comparable = (): Dtype => 'float32';

function asFloat(b: Backend, x: Raw, f: (x: Raw) => Raw): Raw {
  if (!(x instanceof DeviceTensor) || x.dtype !== 'i32') return f(x);
  const c = b.k.cast(x, 'f32');
  try {
    return f(c);
  } finally {
    b.release(c);
  }
}

const compareOp = defineOp<{ op: CompareOp }>({
  name: 'compare',
  dtype: comparable,
  forward: (b, [x, y], { op }) => ({ y: asFloat(b, x, (u) => asFloat(b, y, (v) => b.k.compareTensors(op, u, v))) }),
});

const compareScalarOp = defineOp<{ op: CompareOp; s: number }>({
  name: 'compareScalar',
  dtype: comparable,
  forward: (b, [x], { op, s }) => ({ y: asFloat(b, x, (u) => b.k.compareScalar(op, u, s)) }),
});

function compare(op: CompareOp, a: Tensor, b: Tensor | number): Tensor {
  return typeof b === 'number' ? apply(compareScalarOp, [a], { op, s: b }) : apply(compareOp, [a, b], { op });
}

/** 1 where a == b, else 0 (float32; broadcasting; int32 inputs too; NaN equals nothing). Not differentiable. */
export const eq = (a: Tensor, b: Tensor | number): Tensor => compare('eq', a, b);
/** 1 where a != b, else 0 (NaN differs from everything, itself included). Not differentiable. */
export const ne = (a: Tensor, b: Tensor | number): Tensor => compare('ne', a, b);
/** 1 where a < b, else 0 (false at NaN). Not differentiable. */
export const lt = (a: Tensor, b: Tensor | number): Tensor => compare('lt', a, b);
/** 1 where a <= b, else 0 (false at NaN). Not differentiable. */
export const le = (a: Tensor, b: Tensor | number): Tensor => compare('le', a, b);
/** 1 where a > b, else 0 (false at NaN). Not differentiable. */
export const gt = (a: Tensor, b: Tensor | number): Tensor => compare('gt', a, b);
/** 1 where a >= b, else 0 (false at NaN). Not differentiable. */
export const ge = (a: Tensor, b: Tensor | number): Tensor => compare('ge', a, b);

declare module '../tensor.js' {
  interface Tensor {
    /** torch.gather along `dim`. */
    gather(dim: number, index: IndexLike): Tensor;
    /** torch.index_select along `dim`. */
    indexSelect(dim: number, index: IndexLike): Tensor;
    /** `value` where mask is nonzero. */
    maskedFill(mask: Tensor, value: number): Tensor;
    /** This tensor where cond is nonzero, else other (PyTorch's x.where(condition, y)). */
    where(cond: Tensor, other: Tensor | number): Tensor;
    /** 1 where this == other, else 0. */
    eq(other: Tensor | number): Tensor;
    /** 1 where this != other, else 0. */
    ne(other: Tensor | number): Tensor;
    /** 1 where this < other, else 0. */
    lt(other: Tensor | number): Tensor;
    /** 1 where this <= other, else 0. */
    le(other: Tensor | number): Tensor;
    /** 1 where this > other, else 0. */
    gt(other: Tensor | number): Tensor;
    /** 1 where this >= other, else 0. */
    ge(other: Tensor | number): Tensor;
  }
}

addTensorMethods({
  gather(this: Tensor, dim: number, index: IndexLike) {
    return gather(this, dim, index);
  },
  indexSelect(this: Tensor, dim: number, index: IndexLike) {
    return indexSelect(this, dim, index);
  },
  maskedFill(this: Tensor, mask: Tensor, value: number) {
    return maskedFill(this, mask, value);
  },
  where(this: Tensor, cond: Tensor, other: Tensor | number) {
    return where(cond, this, other);
  },
  eq(this: Tensor, other: Tensor | number) {
    return eq(this, other);
  },
  ne(this: Tensor, other: Tensor | number) {
    return ne(this, other);
  },
  lt(this: Tensor, other: Tensor | number) {
    return lt(this, other);
  },
  le(this: Tensor, other: Tensor | number) {
    return le(this, other);
  },
  gt(this: Tensor, other: Tensor | number) {
    return gt(this, other);
  },
  ge(this: Tensor, other: Tensor | number) {
    return ge(this, other);
  },
});
