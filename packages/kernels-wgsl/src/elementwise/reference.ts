// Float64 references for the elementwise kernels (same arguments and results, F64 for Tensor).

import { sizeOf } from '@wgtorch/tensor';
import type { F64 } from '../common/f64.js';
import { broadcastShapes, broadcastStrides, type UnaryOp } from './elementwise.js';
import type { UnaryGradOp } from './math.js';

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

/**
 * erf in float64: (2/sqrt(pi)) e^(-x^2) sum (2x^2)^n x / (2n+1)!!, a series of positive terms
 * (no cancellation; relative error about 1e-16); +-1 beyond |x| = 6, where erfc < 3e-17.
 */
export function erf64(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (Math.abs(x) >= 6) return Math.sign(x);
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x2) * sum;
}

/** sqrt(2 / pi), gelu's tanh form. */
const GELU_BETA = Math.sqrt(2 / Math.PI);

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
  erf: erf64,
  gelu: (v) => v * 0.5 * (1 + erf64(v * Math.SQRT1_2)),
  geluTanh: (v) => 0.5 * v * (1 + Math.tanh(GELU_BETA * (v + 0.044715 * v * v * v))),
  silu: (v) => v / (1 + Math.exp(-v)),
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

/** out = f(x, y, z) over inputs broadcast as PyTorch does. */
function broadcastRef(inputs: F64[], f: (...v: number[]) => number): F64 {
  let shape: number[] | undefined = [...inputs[0].shape];
  for (const t of inputs.slice(1)) shape = shape && broadcastShapes(shape, t.shape);
  if (!shape) throw new Error(`broadcastRef: shapes ${inputs.map((t) => `[${t.shape}]`).join(', ')} do not broadcast`);
  const out = shape;
  const data = new Float64Array(out.reduce((x, d) => x * d, 1));
  const strides = inputs.map((t) => broadcastStrides(t.shape, out));
  forEachIndex(out, strides, (i, offs) => (data[i] = f(...offs.map((o, k) => inputs[k].data[o]))));
  return { data, shape: out };
}

const binaryRef = (a: F64, b: F64, f: (x: number, y: number) => number): F64 => broadcastRef([a, b], f);

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

// ---- math.ts: PyTorch's formulas in float64 ----

/** 1 where v > 0, -1 where v < 0, else 0 (PyTorch's sign: 0 at NaN). */
const sgn = (v: number): number => (v > 0 ? 1 : v < 0 ? -1 : 0);

const UNARY_GRAD_REF: Record<UnaryGradOp, (x: number) => number> = {
  abs: sgn,
  reciprocal: (x) => -((1 / x) * (1 / x)),
  erf: (x) => (2 / Math.sqrt(Math.PI)) * Math.exp(-(x * x)),
  gelu: (x) => 0.5 * (1 + erf64(x * Math.SQRT1_2)) + x * (Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI)),
  geluTanh: (x) => {
    const t = Math.tanh(GELU_BETA * (x + 0.044715 * x * x * x));
    return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_BETA * (1 + 3 * 0.044715 * x * x);
  },
  silu: (x) => {
    const s = 1 / (1 + Math.exp(-x));
    return s * (1 + x * (1 - s));
  },
};
/** Float64 reference of unaryBackward: dy times the derivative at x. */
export const unaryBackwardRef = (op: UnaryGradOp, dy: F64, x: F64): F64 =>
  map(dy, (g, i) => g * UNARY_GRAD_REF[op](x.data[i]));

/** Float64 reference of leakyRelu. */
export const leakyReluRef = (x: F64, negativeSlope: number): F64 => map(x, (v) => (v > 0 ? v : v * negativeSlope));
/** Float64 reference of leakyReluBackward. */
export const leakyReluBackwardRef = (dy: F64, x: F64, negativeSlope: number): F64 =>
  map(dy, (g, i) => (x.data[i] > 0 ? g : g * negativeSlope));

/** Float64 reference of softplus (log1p(e^z) / beta written so that it does not overflow). */
export const softplusRef = (x: F64, beta: number, threshold: number): F64 =>
  map(x, (v) => {
    const z = v * beta;
    return z > threshold ? v : (Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)))) / beta;
  });
/** Float64 reference of softplusBackward. */
export const softplusBackwardRef = (dy: F64, x: F64, beta: number, threshold: number): F64 =>
  map(dy, (g, i) => {
    const z = x.data[i] * beta;
    return z > threshold ? g : g / (1 + Math.exp(-z));
  });

/** Float64 reference of clamp (NaN stays NaN; max wins where min > max). */
export const clampRef = (x: F64, min: number, max: number): F64 =>
  map(x, (v) => {
    const lo = v < min ? min : v;
    return lo > max ? max : lo;
  });
/** Float64 reference of clampBackward. */
export const clampBackwardRef = (dy: F64, x: F64, min: number, max: number): F64 =>
  map(dy, (g, i) => (x.data[i] >= min && x.data[i] <= max ? g : 0));

const nanEither = (a: number, b: number) => Number.isNaN(a) || Number.isNaN(b);
/** Float64 reference of maximum. */
export const maximumRef = (a: F64, b: F64): F64 => binaryRef(a, b, (x, y) => (nanEither(x, y) ? NaN : x > y ? x : y));
/** Float64 reference of minimum. */
export const minimumRef = (a: F64, b: F64): F64 => binaryRef(a, b, (x, y) => (nanEither(x, y) ? NaN : x < y ? x : y));

function maxMinBackwardRef(dy: F64, a: F64, b: F64, min: boolean): { da: F64; db: F64 } {
  const half = (g: number, x: number, y: number) => (x === y ? g * 0.5 : g);
  const loses = (x: number, y: number) => (min ? x > y : x < y);
  return {
    da: broadcastRef([dy, a, b], (g, x, y) => (loses(x, y) ? 0 : half(g, x, y))),
    db: broadcastRef([dy, a, b], (g, x, y) => (loses(y, x) ? 0 : half(g, x, y))),
  };
}
/** Float64 reference of maximumBackward. */
export const maximumBackwardRef = (dy: F64, a: F64, b: F64): { da: F64; db: F64 } => maxMinBackwardRef(dy, a, b, false);
/** Float64 reference of minimumBackward. */
export const minimumBackwardRef = (dy: F64, a: F64, b: F64): { da: F64; db: F64 } => maxMinBackwardRef(dy, a, b, true);

/** C's pow (JavaScript's Math.pow differs: pow(1, NaN) and pow(-1, +-Infinity) are NaN there, 1 in C). */
export function cPow(x: number, y: number): number {
  if (y === 0 || x === 1 || (x === -1 && Math.abs(y) === Infinity)) return 1;
  return Math.pow(x, y);
}

/** x^e with PyTorch's special exponents, as powScalarWgsl. */
function powScalar64(x: number, e: number): number {
  switch (e) {
    case 1:
      return x;
    case 2:
      return x * x;
    case 3:
      return x * x * x;
    case 0.5:
      return Math.sqrt(x);
    case -0.5:
      return 1 / Math.sqrt(x);
    case -1:
      return 1 / x;
    case -2:
      return 1 / (x * x);
    default:
      return cPow(x, e);
  }
}
/** Float64 reference of powScalar. */
export const powScalarRef = (x: F64, exponent: number): F64 => map(x, (v) => powScalar64(v, exponent));
/** Float64 reference of powScalarBackward. */
export const powScalarBackwardRef = (dy: F64, x: F64, exponent: number): F64 =>
  map(dy, (g, i) => (exponent === 0 ? 0 : g * (exponent * powScalar64(x.data[i], exponent - 1))));
/** Float64 reference of pow. */
export const powRef = (a: F64, b: F64): F64 => binaryRef(a, b, cPow);
/** Float64 reference of powBackward. */
export const powBackwardRef = (dy: F64, a: F64, b: F64): { da: F64; db: F64 } => ({
  da: broadcastRef([dy, a, b], (g, x, e) => (e === 0 ? 0 : g * (e * cPow(x, e - 1)))),
  db: broadcastRef([dy, a, b], (g, x, e) => g * (x === 0 && e >= 0 ? 0 : cPow(x, e) * Math.log(x))),
});
