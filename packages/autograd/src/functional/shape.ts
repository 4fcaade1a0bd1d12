// Shape ops: views, reorderings and joins.

import { Tensor as DeviceTensor, formatShape, sizeOf, stridesOf } from '@wgtorch/tensor';
import type { Raw } from '../backend.js';
import { apply, defineOp, tidy, Tensor } from '../tensor.js';
import { addTensorMethods, reduceTo, type Grads } from './common.js';

const reshapeOp = defineOp<{ shape: number[] }>({
  name: 'reshape',
  // A view keeps the dtype (int32 indices reshape too; the copying ops take float32 only).
  dtype: ([x]) => x,
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
  if (n === 0 && [0, -1].includes(startDim) && [0, -1].includes(endDim)) return reshape(x, [1]); // as PyTorch
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

/**
 * Swaps dims dim0 and dim1 (negative counts from the end); without them, the transpose of a 2-D
 * tensor (x.t()).
 */
export function transpose(x: Tensor, dim0?: number, dim1?: number): Tensor {
  if (dim0 === undefined && dim1 === undefined) {
    if (x.ndim !== 2)
      throw new Error(
        `transpose: without dims it expects a 2-D tensor, got ${formatShape(x.shape)}; pass transpose(x, dim0, dim1).`,
      );
    return x.dtype === 'int32' ? permute(x, [1, 0]) : apply(transposeOp, [x], undefined);
  }
  if (dim0 === undefined || dim1 === undefined)
    throw new Error(`transpose: give both dims (got ${dim0}, ${dim1}) for ${formatShape(x.shape)}.`);
  const a = dimOf('transpose', x.shape, dim0);
  const b = dimOf('transpose', x.shape, dim1);
  if (a === b) return reshape(x, x.shape);
  const dims = [...x.shape.keys()];
  [dims[a], dims[b]] = [b, a];
  return permute(x, dims);
}

const permuteOp = defineOp<{ dims: number[] }>({
  name: 'permute',
  dtype: ([x]) => x,
  forward: (b, [x], { dims }) => {
    if (!isI32(x)) return { y: b.k.permute(x, dims) };
    // The elementwise permute moves f32 only; an int32 one is a strided gather.
    const st = stridesOf(b.shape(x));
    return {
      y: b.k.stridedGather(
        x,
        dims.map((d) => b.shape(x)[d]),
        dims.map((d) => st[d]),
        0,
      ),
    };
  },
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

/** An int32 tensor's device storage (the copies pick their kernel by it; on cpu64 every tensor is float64). */
const isI32 = (r: Raw): boolean => r instanceof DeviceTensor && r.dtype === 'i32';

/** `dim` made non-negative; a dim of a tensor of `shape`, or (extra = 1) an insertion point. */
function dimOf(op: string, shape: readonly number[], dim: number, extra = 0): number {
  const n = shape.length + extra;
  if (!Number.isInteger(dim) || dim < -n || dim >= Math.max(n, 1))
    throw new Error(
      `${op}: dim ${dim} is out of range for ${formatShape(shape)} (expected one in [${-n}, ${Math.max(n, 1) - 1}]).`,
    );
  return dim < 0 ? dim + n : dim;
}

// ---- slices: narrow, slice with a step, select; expand (float32 or int32, as every view here) ----

interface SliceAttrs {
  starts: number[];
  steps: number[];
  counts: number[];
}

/** Takes counts[d] elements from starts[d] in steps of steps[d] along every dim (a copy). */
const sliceOp = defineOp<SliceAttrs>({
  name: 'slice',
  dtype: ([x]) => x,
  forward: (b, [x], { starts, steps, counts }) => {
    const st = stridesOf(b.shape(x));
    const offset = starts.reduce((a, s, d) => a + s * st[d], 0);
    return {
      y: b.k.stridedGather(
        x,
        counts,
        st.map((s, d) => s * steps[d]),
        offset,
      ),
    };
  },
  backward: (b, dy, { attrs, shapes }) => [b.k.sliceBackward(dy, shapes[0], attrs.starts, attrs.steps)],
});

/** One dim sliced, the others whole. */
function sliceDim(x: Tensor, dim: number, start: number, count: number, step: number): Tensor {
  const starts = x.shape.map(() => 0);
  const steps = x.shape.map(() => 1);
  const counts = [...x.shape];
  [starts[dim], steps[dim], counts[dim]] = [start, step, count];
  return apply(sliceOp, [x], { starts, steps, counts });
}

/** `length` elements of dim `dim` from `start` (negative counts from the end), as torch.narrow. */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  const d = dimOf('narrow', x.shape, dim);
  const size = x.shape[d];
  const s = start < 0 ? start + size : start;
  if (!Number.isInteger(start) || !Number.isInteger(length) || s < 0 || length < 0 || s + length > size)
    throw new Error(
      `narrow: start ${start} and length ${length} do not fit dim ${dim} (size ${size}) of ${formatShape(x.shape)}.`,
    );
  return sliceDim(x, d, s, length, 1);
}

/**
 * x[..., start:end:step] along `dim`, as Python slices: negative start/end count from the end,
 * out-of-range ones are clamped, omitted ones (undefined or null) take the whole dim; step > 0.
 */
export function slice(x: Tensor, dim: number, start?: number | null, end?: number | null, step = 1): Tensor {
  const d = dimOf('slice', x.shape, dim);
  if (!Number.isInteger(step) || step <= 0)
    throw new Error(`slice: step must be a positive integer (got ${step}); PyTorch has no negative steps.`);
  const size = x.shape[d];
  const clampTo = (v: number | null | undefined, dflt: number) => {
    if (v === undefined || v === null) return dflt;
    if (!Number.isInteger(v)) throw new Error(`slice: start and end must be integers (got ${v}).`);
    return Math.min(Math.max(v < 0 ? v + size : v, 0), size);
  };
  const s = clampTo(start, 0);
  const e = clampTo(end, size);
  return sliceDim(x, d, s, e > s ? Math.ceil((e - s) / step) : 0, step);
}

/** The slice at `index` of dim `dim` (negative counts from the end), without that dim, as torch.select. */
export function select(x: Tensor, dim: number, index: number): Tensor {
  const d = dimOf('select', x.shape, dim);
  const size = x.shape[d];
  if (!Number.isInteger(index) || index < -size || index >= size)
    throw new Error(`select: index ${index} is out of range for dim ${dim} (size ${size}) of ${formatShape(x.shape)}.`);
  return tidy(() => squeeze(sliceDim(x, d, index < 0 ? index + size : index, 1, 1), d));
}

const expandOp = defineOp<{ shape: number[] }>({
  name: 'expand',
  dtype: ([x]) => x,
  forward: (b, [x], { shape }) => {
    const xs = b.shape(x);
    const lead = shape.length - xs.length;
    const st = stridesOf(xs);
    const strides = shape.map((_, i) => (i < lead || xs[i - lead] === 1 ? 0 : st[i - lead]));
    return { y: b.k.stridedGather(x, shape, strides, 0) };
  },
  backward: (b, dy, { shapes }) => [reduceTo(b, b.retain(dy), shapes[0])],
});

/**
 * x repeated along its size-1 dims (and new leading dims) to `shape`; -1 keeps a dim's size, as
 * torch.expand. A copy, not a view: writes to it do not reach x.
 */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const lead = shape.length - x.ndim;
  const out = shape.map((d, i) => (d === -1 && i >= lead ? x.shape[i - lead] : d));
  const bad =
    lead < 0 ||
    out.some(
      (d, i) => !Number.isInteger(d) || d < 0 || (i >= lead && x.shape[i - lead] !== 1 && x.shape[i - lead] !== d),
    );
  if (bad)
    throw new Error(
      `expand: ${formatShape(x.shape)} cannot expand to ${formatShape(shape)}; ` +
        'only size-1 dims (and new leading dims) can grow, and -1 keeps a dim.',
    );
  return apply(expandOp, [x], { shape: out });
}

/** x without size-1 dims (all of them, or `dim` only when its size is 1), as torch.squeeze. */
export function squeeze(x: Tensor, dim?: number): Tensor {
  if (dim === undefined)
    return reshape(
      x,
      x.shape.filter((d) => d !== 1),
    );
  const d = dimOf('squeeze', x.shape, dim);
  return x.ndim > 0 && x.shape[d] === 1
    ? reshape(
        x,
        x.shape.filter((_, i) => i !== d),
      )
    : reshape(x, x.shape);
}

/** x with a size-1 dim inserted at `dim` (in [-ndim - 1, ndim]), as torch.unsqueeze. */
export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = dimOf('unsqueeze', x.shape, dim, 1);
  return reshape(x, [...x.shape.slice(0, d), 1, ...x.shape.slice(d)]);
}

// ---- joins: cat, stack, split, chunk -----------------------------------------------------------

const catOp = defineOp<{ dim: number }>({
  name: 'cat',
  dtype: (dtypes) => {
    if (dtypes.some((d) => d !== dtypes[0]))
      throw new Error(`cat: dtypes ${dtypes.join(', ')} differ; convert them to one with .float() or .int().`);
    return dtypes[0];
  },
  forward: (b, xs, { dim }) => ({ y: b.k.cat(xs, dim) }),
  backward: (b, dy, { attrs: { dim }, needs, shapes }): Grads => {
    const out = b.shape(dy);
    const st = stridesOf(out);
    let at = 0;
    return shapes.map((s, i) => {
      const start = at;
      at += s[dim];
      return needs[i] ? b.k.stridedGather(dy, s, st, start * st[dim]) : null;
    });
  },
});

/** The tensors joined along `dim` (all the same shape but in `dim`), as torch.cat. */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new Error('cat: needs at least one tensor.');
  const d = dimOf('cat', tensors[0].shape, dim);
  const r = tensors[0].ndim;
  const ok = tensors.every((t) => t.ndim === r && t.shape.every((n, i) => i === d || n === tensors[0].shape[i]));
  if (!ok)
    throw new Error(
      `cat: shapes ${tensors.map((t) => formatShape(t.shape)).join(', ')} must match in every dim but ${dim}.`,
    );
  return apply(catOp, [...tensors], { dim: d });
}

/** The tensors (all one shape) stacked along a new dim `dim`, as torch.stack. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new Error('stack: needs at least one tensor.');
  const s = tensors[0].shape;
  if (tensors.some((t) => t.ndim !== s.length || t.shape.some((n, i) => n !== s[i])))
    throw new Error(`stack: shapes ${tensors.map((t) => formatShape(t.shape)).join(', ')} must all be equal.`);
  const d = dimOf('stack', s, dim, 1);
  return tidy(() =>
    cat(
      tensors.map((t) => unsqueeze(t, d)),
      d,
    ),
  );
}

/**
 * Pieces of x along `dim`, as torch.split: a number gives pieces of that size (the last may be
 * smaller), a list gives pieces of those sizes (summing to the dim's size).
 */
export function split(x: Tensor, sizeOrSections: number | readonly number[], dim = 0): Tensor[] {
  const d = dimOf('split', x.shape, dim);
  const size = x.shape[d];
  let sizes: number[];
  if (typeof sizeOrSections === 'number') {
    const n = sizeOrSections;
    if (!Number.isInteger(n) || n < 0 || (n === 0 && size > 0))
      throw new Error(`split: split size ${n} must be a positive integer for dim ${dim} of ${formatShape(x.shape)}.`);
    sizes =
      n === 0 ? [0] : Array.from({ length: Math.max(1, Math.ceil(size / n)) }, (_, i) => Math.min(n, size - i * n));
  } else {
    sizes = [...sizeOrSections];
    if (sizes.some((n) => !Number.isInteger(n) || n < 0) || sizes.reduce((a, n) => a + n, 0) !== size)
      throw new Error(
        `split: sections [${sizes.join(', ')}] must be sizes >= 0 summing to ${size}, ` +
          `dim ${dim} of ${formatShape(x.shape)}.`,
      );
  }
  let at = 0;
  return sizes.map((n) => {
    const piece = narrow(x, d, at, n);
    at += n;
    return piece;
  });
}

/** x split into `chunks` pieces along `dim` of ceil(size / chunks) each (possibly fewer pieces), as torch.chunk. */
export function chunk(x: Tensor, chunks: number, dim = 0): Tensor[] {
  if (!Number.isInteger(chunks) || chunks <= 0)
    throw new Error(`chunk: chunks must be a positive integer (got ${chunks}).`);
  const size = x.shape[dimOf('chunk', x.shape, dim)];
  return split(x, Math.max(1, Math.ceil(size / chunks)), dim);
}

declare module '../tensor.js' {
  interface Tensor {
    /** The same data under another shape (-1 infers one dimension). */
    reshape(shape: readonly number[]): Tensor;
    /** Flattens dimensions startDim..endDim into one. */
    flatten(startDim?: number, endDim?: number): Tensor;
    /** Transpose of a 2-D tensor. */
    t(): Tensor;
    /** Swaps dims dim0 and dim1. */
    transpose(dim0: number, dim1: number): Tensor;
    /** Reorders the dims: output dim i is input dim dims[i]. */
    permute(dims: readonly number[]): Tensor;
    /** Repeated along size-1 dims to `shape` (a copy). */
    expand(shape: readonly number[]): Tensor;
    /** Without size-1 dims (or only `dim`). */
    squeeze(dim?: number): Tensor;
    /** With a size-1 dim inserted at `dim`. */
    unsqueeze(dim: number): Tensor;
    /** `length` elements of dim `dim` from `start`. */
    narrow(dim: number, start: number, length: number): Tensor;
    /** x[..., start:end:step] along `dim` (Python's rules). */
    slice(dim: number, start?: number | null, end?: number | null, step?: number): Tensor;
    /** The slice at `index` of dim `dim`, without that dim. */
    select(dim: number, index: number): Tensor;
    /** Pieces along `dim` of a size, or of the sizes listed. */
    split(sizeOrSections: number | readonly number[], dim?: number): Tensor[];
    /** `chunks` pieces along `dim`. */
    chunk(chunks: number, dim?: number): Tensor[];
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
  transpose(this: Tensor, dim0: number, dim1: number) {
    return transpose(this, dim0, dim1);
  },
  permute(this: Tensor, dims: readonly number[]) {
    return permute(this, dims);
  },
  expand(this: Tensor, shape: readonly number[]) {
    return expand(this, shape);
  },
  squeeze(this: Tensor, dim?: number) {
    return squeeze(this, dim);
  },
  unsqueeze(this: Tensor, dim: number) {
    return unsqueeze(this, dim);
  },
  narrow(this: Tensor, dim: number, start: number, length: number) {
    return narrow(this, dim, start, length);
  },
  slice(this: Tensor, dim: number, start?: number | null, end?: number | null, step = 1) {
    return slice(this, dim, start, end, step);
  },
  select(this: Tensor, dim: number, index: number) {
    return select(this, dim, index);
  },
  split(this: Tensor, sizeOrSections: number | readonly number[], dim = 0) {
    return split(this, sizeOrSections, dim);
  },
  chunk(this: Tensor, chunks: number, dim = 0) {
    return chunk(this, chunks, dim);
  },
});
