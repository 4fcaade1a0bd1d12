// Float64 references for the reductions.

import { sizeOf } from '@wgtorch/tensor';
import type { F64 } from '../common/f64.js';
import { normalizeAxes, reducedShape, sumToShapeAxes } from './reduce.js';
import { axesLast, normalizeDim, rowsOf, type Rows } from './rows.js';
import { permuteRef } from '../elementwise/reference.js';

function reduceRef(
  x: F64,
  axesIn: readonly number[],
  keepdim: boolean,
  init: number,
  f: (acc: number, v: number) => number,
): F64 {
  const axes = normalizeAxes('reduceRef', x.shape, axesIn);
  const shape = reducedShape(x.shape, axes, keepdim);
  const outN = sizeOf(shape);
  const data = new Float64Array(outN).fill(init);
  // output strides over the kept dims of x
  const keptStride = new Array<number>(x.shape.length).fill(0);
  let acc = 1;
  for (let i = x.shape.length - 1; i >= 0; i--) {
    if (!axes.includes(i)) {
      keptStride[i] = acc;
      acc *= x.shape[i];
    }
  }
  const coord = new Array<number>(x.shape.length).fill(0);
  for (let i = 0; i < x.data.length; i++) {
    let o = 0;
    for (let d = 0; d < coord.length; d++) o += coord[d] * keptStride[d];
    data[o] = f(data[o], x.data[i]);
    for (let d = coord.length - 1; d >= 0; d--) {
      if (++coord[d] < x.shape[d]) break;
      coord[d] = 0;
    }
  }
  return { data, shape };
}

/** Float64 reference of sum on the CPU (what the tests check the kernel against). */
export const sumRef = (x: F64, axes: readonly number[], keepdim = false): F64 =>
  reduceRef(x, axes, keepdim, 0, (a, v) => a + v);
/** Float64 reference of max on the CPU (what the tests check the kernel against). */
export const maxRef = (x: F64, axes: readonly number[], keepdim = false): F64 =>
  reduceRef(x, axes, keepdim, -Infinity, Math.max);
/** Float64 reference of min on the CPU (what the tests check the kernel against). */
export const minRef = (x: F64, axes: readonly number[], keepdim = false): F64 =>
  reduceRef(x, axes, keepdim, Infinity, Math.min);
/** Float64 reference of mean on the CPU (what the tests check the kernel against). */
export function meanRef(x: F64, axes: readonly number[], keepdim = false): F64 {
  const s = sumRef(x, axes, keepdim);
  const n = x.data.length / Math.max(1, s.data.length);
  return { data: s.data.map((v) => v / n), shape: s.shape };
}
/** Float64 reference of sumToShape on the CPU (what the tests check the kernel against). */
export function sumToShapeRef(x: F64, shape: readonly number[]): F64 {
  const s = sumRef(x, sumToShapeAxes('sumToShapeRef', x.shape, shape), false);
  return { data: s.data, shape: [...shape] };
}

// ---- the row kernels (rows.ts) ----

/** Calls f(terms, o) for every row o of the (outer, R, inner) view; `at(r)` is term r's flat index. */
function eachRow(rows: Rows, f: (at: (r: number) => number, o: number) => void): void {
  const { outer, R, inner } = rows;
  for (let a = 0; a < outer; a++) for (let i = 0; i < inner; i++) f((r) => (a * R + r) * inner + i, a * inner + i);
}

function dimRowsRef(kernel: string, shape: readonly number[], dim: number): { d: number; rows: Rows } {
  const d = normalizeDim(kernel, shape, dim);
  return { d, rows: shape.length === 0 ? { outer: 1, R: 1, inner: 1 } : rowsOf(shape, [d]) };
}

function extremeDimRef(op: 'max' | 'min', x: F64, dim: number, keepdim: boolean): { values: F64; indices: F64 } {
  const { d, rows } = dimRowsRef(`${op}DimRef`, x.shape, dim);
  if (rows.R === 0) throw new Error(`${op}DimRef: dim ${dim} of [${x.shape}] is empty: ${op} has no identity.`);
  const shape = x.shape.length === 0 ? [] : reducedShape(x.shape, [d], keepdim);
  const values = new Float64Array(rows.outer * rows.inner);
  const indices = new Float64Array(values.length);
  eachRow(rows, (at, o) => {
    let best = x.data[at(0)];
    let bi = 0;
    for (let r = 1; r < rows.R && !Number.isNaN(best); r++) {
      const v = x.data[at(r)];
      if (Number.isNaN(v) || (op === 'max' ? v > best : v < best)) [best, bi] = [v, r];
    }
    values[o] = best;
    indices[o] = bi;
  });
  return { values: { data: values, shape }, indices: { data: indices, shape: [...shape] } };
}

/** Float64 reference of maxDim (indices as integer-valued float64). */
export const maxDimRef = (x: F64, dim: number, keepdim = false) => extremeDimRef('max', x, dim, keepdim);
/** Float64 reference of minDim (indices as integer-valued float64). */
export const minDimRef = (x: F64, dim: number, keepdim = false) => extremeDimRef('min', x, dim, keepdim);

/** Float64 reference of extremeDimBackward. */
export function extremeDimBackwardRef(dy: F64, indices: F64, shape: readonly number[], dim: number): F64 {
  const { rows } = dimRowsRef('extremeDimBackwardRef', shape, dim);
  const dx = new Float64Array(rows.outer * rows.R * rows.inner);
  eachRow(rows, (at, o) => (dx[at(indices.data[o])] = dy.data[o]));
  return { data: dx, shape: [...shape] };
}

/** f over each row of `axes` (any set, or none), in the reduced shape. */
function reduceRowsRef(
  kernel: string,
  x: F64,
  axesIn: readonly number[],
  keepdim: boolean,
  f: (v: number[]) => number,
) {
  const axes = normalizeAxes(kernel, x.shape, axesIn);
  const shape = reducedShape(x.shape, axes, keepdim);
  const moved = permuteRef(x, axesLast(x.shape.length, axes));
  const n = sizeOf(shape);
  const R = n === 0 ? 0 : x.data.length / n;
  const data = new Float64Array(n);
  for (let o = 0; o < n; o++) data[o] = f(Array.from(moved.data.subarray(o * R, (o + 1) * R)));
  return { data, shape };
}

function logsumexpOf(v: number[]): number {
  let m = v.reduce((a, b) => (b > a ? b : a), -Infinity);
  if (!Number.isFinite(m)) m = 0;
  return Math.log(v.reduce((s, t) => s + Math.exp(t - m), 0)) + m;
}

function varianceOf(v: number[], correction: number): number {
  const mu = v.reduce((a, b) => a + b, 0) / v.length;
  const den = v.length - correction;
  return den <= 0 ? NaN : v.reduce((s, t) => s + (t - mu) ** 2, 0) / den;
}

/** Float64 reference of logsumexp. */
export const logsumexpRef = (x: F64, axes: readonly number[], keepdim = false): F64 =>
  reduceRowsRef('logsumexpRef', x, axes, keepdim, logsumexpOf);
/** Float64 reference of variance. */
export const varianceRef = (x: F64, axes: readonly number[], correction = 1, keepdim = false): F64 =>
  reduceRowsRef('varianceRef', x, axes, keepdim, (v) => varianceOf(v, correction));
/** Float64 reference of std. */
export const stdRef = (x: F64, axes: readonly number[], correction = 1, keepdim = false): F64 =>
  reduceRowsRef('stdRef', x, axes, keepdim, (v) => Math.sqrt(varianceOf(v, correction)));

/** Float64 reference of prod. */
export function prodRef(x: F64, dim: number, keepdim = false): F64 {
  const { d, rows } = dimRowsRef('prodRef', x.shape, dim);
  const data = new Float64Array(rows.outer * rows.inner).fill(1);
  eachRow(rows, (at, o) => {
    for (let r = 0; r < rows.R; r++) data[o] *= x.data[at(r)];
  });
  return { data, shape: x.shape.length === 0 ? [] : reducedShape(x.shape, [d], keepdim) };
}

/** Float64 reference of prodBackward: the product of the other terms of each row, computed directly. */
export function prodBackwardRef(dy: F64, x: F64, dim: number): F64 {
  const { rows } = dimRowsRef('prodBackwardRef', x.shape, dim);
  const dx = new Float64Array(x.data.length);
  eachRow(rows, (at, o) => {
    for (let r = 0; r < rows.R; r++) {
      let p = dy.data[o];
      for (let s = 0; s < rows.R; s++) if (s !== r) p *= x.data[at(s)];
      dx[at(r)] = p;
    }
  });
  return { data: dx, shape: [...x.shape] };
}

function softmaxAlongRef(log: boolean, x: F64, dim: number): F64 {
  const { rows } = dimRowsRef(log ? 'logSoftmaxDimRef' : 'softmaxDimRef', x.shape, dim);
  const y = new Float64Array(x.data.length);
  eachRow(rows, (at) => {
    let m = -Infinity;
    for (let r = 0; r < rows.R; r++) m = Math.max(m, x.data[at(r)]);
    let s = 0;
    for (let r = 0; r < rows.R; r++) s += Math.exp(x.data[at(r)] - m);
    for (let r = 0; r < rows.R; r++) y[at(r)] = log ? x.data[at(r)] - m - Math.log(s) : Math.exp(x.data[at(r)] - m) / s;
  });
  return { data: y, shape: [...x.shape] };
}

function softmaxAlongBackwardRef(log: boolean, dy: F64, y: F64, dim: number): F64 {
  const { rows } = dimRowsRef(log ? 'logSoftmaxDimBackwardRef' : 'softmaxDimBackwardRef', y.shape, dim);
  const dx = new Float64Array(y.data.length);
  eachRow(rows, (at) => {
    let s = 0;
    for (let r = 0; r < rows.R; r++) s += log ? dy.data[at(r)] : dy.data[at(r)] * y.data[at(r)];
    for (let r = 0; r < rows.R; r++) {
      const i = at(r);
      dx[i] = log ? dy.data[i] - Math.exp(y.data[i]) * s : y.data[i] * (dy.data[i] - s);
    }
  });
  return { data: dx, shape: [...y.shape] };
}

/** Float64 reference of softmaxDim. */
export const softmaxDimRef = (x: F64, dim: number): F64 => softmaxAlongRef(false, x, dim);
/** Float64 reference of logSoftmaxDim. */
export const logSoftmaxDimRef = (x: F64, dim: number): F64 => softmaxAlongRef(true, x, dim);
/** Float64 reference of softmaxDimBackward. */
export const softmaxDimBackwardRef = (dy: F64, y: F64, dim: number): F64 => softmaxAlongBackwardRef(false, dy, y, dim);
/** Float64 reference of logSoftmaxDimBackward. */
export const logSoftmaxDimBackwardRef = (dy: F64, y: F64, dim: number): F64 =>
  softmaxAlongBackwardRef(true, dy, y, dim);

/** Float64 reference of tieMask. */
export function tieMaskRef(x: F64, y: F64, axesIn: readonly number[]): F64 {
  const axes = normalizeAxes('tieMaskRef', x.shape, axesIn);
  // y's element for each x element: x's kept coordinates, row-major.
  const kept = reducedShape(x.shape, axes, true);
  const mask = new Float64Array(x.data.length);
  const coord = new Array<number>(x.shape.length).fill(0);
  for (let i = 0; i < x.data.length; i++) {
    let o = 0;
    for (let d = 0; d < coord.length; d++) o = o * kept[d] + (axes.includes(d) ? 0 : coord[d]);
    const [v, e] = [x.data[i], y.data[o]];
    mask[i] = v === e || (Number.isNaN(v) && Number.isNaN(e)) ? 1 : 0;
    for (let d = coord.length - 1; d >= 0; d--) {
      if (++coord[d] < x.shape[d]) break;
      coord[d] = 0;
    }
  }
  return { data: mask, shape: [...x.shape] };
}

/** Float64 reference of varianceBackward. */
export function varianceBackwardRef(
  dy: F64,
  x: F64,
  y: F64,
  axesIn: readonly number[],
  correction: number,
  sqrtOut: boolean,
): F64 {
  const axes = normalizeAxes('varianceBackwardRef', x.shape, axesIn);
  const mu = meanRef(x, axes, true);
  const kept = reducedShape(x.shape, axes, true);
  const n = x.data.length / Math.max(1, mu.data.length);
  const dx = new Float64Array(x.data.length);
  const coord = new Array<number>(x.shape.length).fill(0);
  for (let i = 0; i < x.data.length; i++) {
    let o = 0;
    for (let d = 0; d < coord.length; d++) o = o * kept[d] + (axes.includes(d) ? 0 : coord[d]);
    const den = n - correction;
    const g = sqrtOut ? (y.data[o] === 0 ? 0 : dy.data[o] / (den * y.data[o])) : (2 * dy.data[o]) / den;
    dx[i] = g * (x.data[i] - mu.data[o]);
    for (let d = coord.length - 1; d >= 0; d--) {
      if (++coord[d] < x.shape[d]) break;
      coord[d] = 0;
    }
  }
  return { data: dx, shape: [...x.shape] };
}
