// Float64 references of the indexing family, with the launchers' arguments (F64 for Tensor;
// indices as F64 of integer values). Written by coordinates, not by the kernels' strides.

import { formatShape, sizeOf, stridesOf } from '@wgtorch/tensor';
import type { F64 } from '../common/f64.js';
import { KernelArgumentError } from '../common/errors.js';
import { broadcastShapes, broadcastStrides } from '../elementwise/elementwise.js';
import { forEachIndex } from '../elementwise/reference.js';
import { checkCat, checkSlice } from './views.js';
import { checkGatherShapes, type CompareOp } from './indexing.js';

/** Float64 reference of stridedGather. */
export function stridedGatherRef(x: F64, shape: readonly number[], strides: readonly number[], offset: number): F64 {
  const data = new Float64Array(sizeOf(shape));
  forEachIndex(shape, [[...strides]], (i, [o]) => {
    if (offset + o >= x.data.length)
      throw new KernelArgumentError('stridedGather', `reads element ${offset + o} of x ${formatShape(x.shape)}.`);
    data[i] = x.data[offset + o];
  });
  return { data, shape: [...shape] };
}

/** Float64 reference of sliceBackward. */
export function sliceBackwardRef(
  dy: F64,
  shape: readonly number[],
  starts: readonly number[],
  steps: readonly number[],
): F64 {
  const bad = checkSlice(dy.shape, shape, starts, steps);
  if (bad) throw new KernelArgumentError('sliceBackward', bad);
  const data = new Float64Array(sizeOf(shape));
  const st = stridesOf(shape);
  const offset = starts.reduce((a, s, d) => a + s * st[d], 0);
  forEachIndex(dy.shape, [st.map((s, d) => s * steps[d])], (i, [o]) => (data[offset + o] = dy.data[i]));
  return { data, shape: [...shape] };
}

/** Float64 reference of cat. */
export function catRef(xs: readonly F64[], dim: number): F64 {
  const bad = checkCat(
    xs.map((x) => x.shape),
    dim,
  );
  if (bad) throw new KernelArgumentError('cat', bad);
  const shape = [...xs[0].shape];
  shape[dim] = xs.reduce((a, x) => a + x.shape[dim], 0);
  const data = new Float64Array(sizeOf(shape));
  const inner = sizeOf(shape.slice(dim + 1));
  let at = 0;
  for (const x of xs) {
    const row = x.shape[dim] * inner;
    for (let j = 0; j < x.data.length; j++)
      data[Math.floor(j / row) * shape[dim] * inner + at * inner + (j % row)] = x.data[j];
    at += x.shape[dim];
  }
  return { data, shape };
}

/** Visits each output coordinate c of `shape` with the flat x offset of c without dim, and the index offset. */
function forEachPick(
  shape: readonly number[],
  xShape: readonly number[],
  dim: number,
  indexStrides: readonly number[],
  f: (i: number, xo: number, io: number) => void,
): void {
  const xs = stridesOf(xShape).map((s, d) => (d === dim ? 0 : s));
  forEachIndex(shape, [xs, [...indexStrides]], (i, [xo, io]) => f(i, xo, io));
}

function checkIndexRef(kernel: string, xShape: readonly number[], dim: number): void {
  if (!Number.isInteger(dim) || dim < 0 || dim >= xShape.length)
    throw new KernelArgumentError(kernel, `dim ${dim} is out of range for x ${formatShape(xShape)}.`);
}

function pickRef(x: F64, dim: number, index: F64, shape: number[], is: number[]): F64 {
  const data = new Float64Array(sizeOf(shape));
  const stride = stridesOf(x.shape)[dim];
  forEachPick(shape, x.shape, dim, is, (i, xo, io) => {
    const k = index.data[io];
    data[i] = k >= 0 && k < x.shape[dim] && Number.isInteger(k) ? x.data[xo + k * stride] : NaN;
  });
  return { data, shape };
}

function pickBackwardRef(dy: F64, index: F64, dim: number, xShape: readonly number[], is: number[]): F64 {
  const data = new Float64Array(sizeOf(xShape));
  const stride = stridesOf(xShape)[dim];
  // Summed in ascending k per destination, as the kernel does.
  forEachPick(dy.shape, xShape, dim, is, (i, xo, io) => {
    const k = index.data[io];
    if (k >= 0 && k < xShape[dim]) data[xo + k * stride] += dy.data[i];
  });
  return { data, shape: [...xShape] };
}

const selectStrides = (rank: number, dim: number) => Array.from({ length: rank }, (_, d) => (d === dim ? 1 : 0));

/** Float64 reference of gather. */
export function gatherRef(x: F64, dim: number, index: F64): F64 {
  checkIndexRef('gather', x.shape, dim);
  const bad = checkGatherShapes(x.shape, dim, index.shape);
  if (bad) throw new KernelArgumentError('gather', bad);
  return pickRef(x, dim, index, [...index.shape], stridesOf(index.shape));
}

/** Float64 reference of gatherBackward. */
export function gatherBackwardRef(dy: F64, index: F64, dim: number, xShape: readonly number[]): F64 {
  checkIndexRef('gatherBackward', xShape, dim);
  const bad = checkGatherShapes(xShape, dim, index.shape);
  if (bad) throw new KernelArgumentError('gatherBackward', bad);
  return pickBackwardRef(dy, index, dim, xShape, stridesOf(index.shape));
}

/** Float64 reference of indexSelect. */
export function indexSelectRef(x: F64, dim: number, index: F64): F64 {
  checkIndexRef('indexSelect', x.shape, dim);
  if (index.shape.length !== 1)
    throw new KernelArgumentError('indexSelect', `index must be 1-D, got ${formatShape(index.shape)}; flatten it.`);
  const shape = [...x.shape];
  shape[dim] = index.shape[0];
  return pickRef(x, dim, index, shape, selectStrides(shape.length, dim));
}

/** Float64 reference of indexSelectBackward. */
export function indexSelectBackwardRef(dy: F64, index: F64, dim: number, xShape: readonly number[]): F64 {
  checkIndexRef('indexSelectBackward', xShape, dim);
  return pickBackwardRef(dy, index, dim, xShape, selectStrides(xShape.length, dim));
}

function broadcast(kernel: string, inputs: F64[], f: (...v: number[]) => number): F64 {
  let shape: number[] | undefined = [...inputs[0].shape];
  for (const t of inputs.slice(1)) shape = shape && broadcastShapes(shape, t.shape);
  if (!shape)
    throw new KernelArgumentError(
      kernel,
      `shapes ${inputs.map((t) => formatShape(t.shape)).join(', ')} do not broadcast.`,
    );
  const out = shape;
  const data = new Float64Array(sizeOf(out));
  const strides = inputs.map((t) => broadcastStrides(t.shape, out));
  forEachIndex(out, strides, (i, offs) => (data[i] = f(...offs.map((o, k) => inputs[k].data[o]))));
  return { data, shape: out };
}

/** Float64 reference of where (NaN in cond counts as true). */
export const whereRef = (cond: F64, a: F64, b: F64): F64 =>
  broadcast('where', [cond, a, b], (c, u, v) => (c !== 0 ? u : v));

/** Float64 reference of maskedFill. */
export function maskedFillRef(x: F64, mask: F64, value: number): F64 {
  const out = broadcast('maskedFill', [x, mask], (v, m) => (m !== 0 ? value : v));
  if (out.shape.length !== x.shape.length || out.shape.some((d, i) => d !== x.shape[i]))
    throw new KernelArgumentError(
      'maskedFill',
      `mask ${formatShape(mask.shape)} must broadcast to x ${formatShape(x.shape)}.`,
    );
  return out;
}

const COMPARE_REF: Record<CompareOp, (a: number, b: number) => boolean> = {
  eq: (a, b) => a === b,
  ne: (a, b) => a !== b,
  lt: (a, b) => a < b,
  le: (a, b) => a <= b,
  gt: (a, b) => a > b,
  ge: (a, b) => a >= b,
};

/** Float64 reference of compare (JavaScript's comparisons are IEEE's). */
export const compareRef = (op: CompareOp, a: F64, b: F64): F64 =>
  broadcast(`compare.${op}`, [a, b], (u, v) => (COMPARE_REF[op](u, v) ? 1 : 0));

/** Float64 reference of compareScalar. */
export function compareScalarRef(op: CompareOp, x: F64, s: number): F64 {
  return { data: x.data.map((v) => (COMPARE_REF[op](v, s) ? 1 : 0)), shape: [...x.shape] };
}
