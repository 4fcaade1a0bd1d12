// Float64 references for the reductions.

import { sizeOf } from '@wgtorch/tensor';
import type { F64 } from '../common/f64.js';
import { normalizeAxes, reducedShape, sumToShapeAxes } from './reduce.js';

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
