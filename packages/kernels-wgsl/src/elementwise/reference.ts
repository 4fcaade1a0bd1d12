// Float64 references for the elementwise kernels (same arguments and results, F64 for Tensor).

import { sizeOf } from '@wgtorch/tensor';
import type { F64 } from '../common/f64.js';
import { broadcastShapes, broadcastStrides, type UnaryOp } from './elementwise.js';

function map(x: F64, f: (v: number, i: number) => number): F64 {
  const data = new Float64Array(x.data.length);
  for (let i = 0; i < data.length; i++) data[i] = f(x.data[i], i);
  return { data, shape: [...x.shape] };
}

/** max(v, 0) keeping NaN, like PyTorch's relu and the kernels. */
const relu64 = (v: number): number => (v < 0 ? 0 : v);

/** Float64 reference of relu on the CPU (what the tests check the kernel against). */
export const reluRef = (x: F64): F64 => map(x, relu64);
/** PyTorch's relu backward, threshold_backward(dy, y, 0): 0 where y <= 0, else dy (so dy where y is NaN). */
export const reluBackwardRef = (dy: F64, y: F64): F64 => map(dy, (v, i) => (y.data[i] <= 0 ? 0 : v));
/** Float64 reference of addRelu on the CPU (what the tests check the kernel against). */
export const addReluRef = (a: F64, b: F64): F64 => map(a, (v, i) => relu64(v + b.data[i]));
/** Float64 reference of scale on the CPU (what the tests check the kernel against). */
export const scaleRef = (x: F64, s: number): F64 => map(x, (v) => v * s);
/** Float64 reference of addScalar on the CPU (what the tests check the kernel against). */
export const addScalarRef = (x: F64, s: number): F64 => map(x, (v) => v + s);
/** Float64 reference of axpy on the CPU (what the tests check the kernel against). */
export const axpyRef = (alpha: number, x: F64, y: F64): F64 => map(y, (v, i) => v + alpha * x.data[i]);
/** Float64 reference of copy on the CPU (what the tests check the kernel against). */
export const copyRef = (x: F64): F64 => map(x, (v) => v);
/** Float64 reference of fill on the CPU (what the tests check the kernel against). */
export function fillRef(shape: readonly number[], value: number): F64 {
  return { data: new Float64Array(sizeOf(shape)).fill(value), shape: [...shape] };
}

const UNARY_REF: Record<UnaryOp, (v: number) => number> = {
  exp: Math.exp,
  log: Math.log,
  neg: (v) => -v,
  sqrt: Math.sqrt,
  rsqrt: (v) => 1 / Math.sqrt(v),
  abs: Math.abs,
  square: (v) => v * v,
  reciprocal: (v) => 1 / v,
  sigmoid: (v) => 1 / (1 + Math.exp(-v)),
  tanh: Math.tanh,
};
/** Float64 reference of unary on the CPU (what the tests check the kernel against). */
export const unaryRef = (op: UnaryOp, x: F64): F64 => map(x, UNARY_REF[op]);

/** Visits every index of `shape` with the flat offsets given by each stride list. */
export function forEachIndex(
  shape: readonly number[],
  strides: number[][],
  f: (i: number, offs: number[]) => void,
): void {
  const n = sizeOf(shape);
  const coord = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    f(
      i,
      strides.map((st) => st.reduce((acc, s, d) => acc + s * coord[d], 0)),
    );
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++coord[d] < shape[d]) break;
      coord[d] = 0;
    }
  }
}

function binaryRef(a: F64, b: F64, f: (x: number, y: number) => number): F64 {
  const shape = broadcastShapes(a.shape, b.shape);
  if (!shape) throw new Error(`binaryRef: shapes [${a.shape}] and [${b.shape}] do not broadcast`);
  const data = new Float64Array(shape.reduce((x, d) => x * d, 1));
  forEachIndex(shape, [broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape)], (i, [oa, ob]) => {
    data[i] = f(a.data[oa], b.data[ob]);
  });
  return { data, shape };
}

/** Float64 reference of add on the CPU (what the tests check the kernel against). */
export const addRef = (a: F64, b: F64): F64 => binaryRef(a, b, (x, y) => x + y);
/** Float64 reference of sub on the CPU (what the tests check the kernel against). */
export const subRef = (a: F64, b: F64): F64 => binaryRef(a, b, (x, y) => x - y);
/** Float64 reference of mul on the CPU (what the tests check the kernel against). */
export const mulRef = (a: F64, b: F64): F64 => binaryRef(a, b, (x, y) => x * y);
/** Float64 reference of div on the CPU (what the tests check the kernel against). */
export const divRef = (a: F64, b: F64): F64 => binaryRef(a, b, (x, y) => x / y);

/** Float64 reference of permute on the CPU (what the tests check the kernel against). */
export function permuteRef(x: F64, dims: readonly number[]): F64 {
  const xs: number[] = [];
  let acc = 1;
  for (let i = x.shape.length - 1; i >= 0; i--) {
    xs[i] = acc;
    acc *= x.shape[i];
  }
  const shape = dims.map((d) => x.shape[d]);
  const data = new Float64Array(x.data.length);
  forEachIndex(shape, [dims.map((d) => xs[d])], (i, [o]) => (data[i] = x.data[o]));
  return { data, shape };
}

/** Float64 reference of transpose2d on the CPU (what the tests check the kernel against). */
export const transpose2dRef = (x: F64): F64 => permuteRef(x, [1, 0]);
