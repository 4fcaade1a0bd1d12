// Float64 references for average and max pooling.

import type { F64 } from '../common/f64.js';
import { checkPooledShape, maxPool2dGeometry, type MaxPool2dOptions } from './maxpool.js';
import { avgPool2dGeometry, type AvgPool2dOptions } from './pool.js';

/** Float64 reference of avgPool2d on the CPU (what the tests check the kernel against). */
export function avgPool2dRef(x: F64, opts: AvgPool2dOptions): F64 {
  const g = avgPool2dGeometry('avgPool2dRef', x.shape, opts);
  const y = new Float64Array(g.N * g.C * g.OH * g.OW);
  for (let p = 0; p < g.N * g.C; p++)
    for (let oh = 0; oh < g.OH; oh++)
      for (let ow = 0; ow < g.OW; ow++) {
        let s = 0;
        for (let i = 0; i < g.kh; i++)
          for (let j = 0; j < g.kw; j++) {
            const h = oh * g.sh - g.ph + i;
            const w = ow * g.sw - g.pw + j;
            if (h >= 0 && h < g.H && w >= 0 && w < g.W) s += x.data[(p * g.H + h) * g.W + w];
          }
        y[(p * g.OH + oh) * g.OW + ow] = s / (g.kh * g.kw);
      }
  return { data: y, shape: [g.N, g.C, g.OH, g.OW] };
}

/** Float64 reference of avgPool2dBackward on the CPU (what the tests check the kernel against). */
export function avgPool2dBackwardRef(dy: F64, inputShape: readonly number[], opts: AvgPool2dOptions): F64 {
  const g = avgPool2dGeometry('avgPool2dBackwardRef', inputShape, opts);
  const dx = new Float64Array(g.N * g.C * g.H * g.W);
  for (let p = 0; p < g.N * g.C; p++)
    for (let oh = 0; oh < g.OH; oh++)
      for (let ow = 0; ow < g.OW; ow++) {
        const v = dy.data[(p * g.OH + oh) * g.OW + ow] / (g.kh * g.kw);
        for (let i = 0; i < g.kh; i++)
          for (let j = 0; j < g.kw; j++) {
            const h = oh * g.sh - g.ph + i;
            const w = ow * g.sw - g.pw + j;
            if (h >= 0 && h < g.H && w >= 0 && w < g.W) dx[(p * g.H + h) * g.W + w] += v;
          }
      }
  return { data: dx, shape: [...inputShape] };
}

/** Float64 reference of globalAvgPool on the CPU (what the tests check the kernel against). */
export function globalAvgPoolRef(x: F64): F64 {
  const [N, C, H, W] = x.shape;
  const HW = H * W;
  const y = new Float64Array(N * C);
  for (let p = 0; p < N * C; p++) {
    let s = 0;
    for (let k = 0; k < HW; k++) s += x.data[p * HW + k];
    y[p] = s / HW;
  }
  return { data: y, shape: [N, C, 1, 1] };
}

/** Float64 reference of globalAvgPoolBackward on the CPU (what the tests check the kernel against). */
export function globalAvgPoolBackwardRef(dy: F64, inputShape: readonly number[]): F64 {
  const [N, C, H, W] = inputShape;
  const HW = H * W;
  const dx = new Float64Array(N * C * HW);
  for (let p = 0; p < N * C; p++) dx.fill(dy.data[p] / HW, p * HW, (p + 1) * HW);
  return { data: dx, shape: [...inputShape] };
}

/**
 * Float64 reference of maxPool2d on the CPU: the maxima and their indices into each H*W plane (integers as
 * float64). Taps in row-major order; a tap replaces the best so far when greater or NaN (PyTorch's CPU rule).
 */
export function maxPool2dRef(x: F64, opts: MaxPool2dOptions): { values: F64; indices: F64 } {
  const g = maxPool2dGeometry('maxPool2dRef', x.shape, opts);
  const shape = [g.N, g.C, g.OH, g.OW];
  const values = new Float64Array(g.N * g.C * g.OH * g.OW);
  const indices = new Float64Array(values.length);
  for (let p = 0; p < g.N * g.C; p++)
    for (let oh = 0; oh < g.OH; oh++)
      for (let ow = 0; ow < g.OW; ow++) {
        let best = -Infinity;
        let at = -1;
        for (let i = 0; i < g.kh; i++)
          for (let j = 0; j < g.kw; j++) {
            const h = oh * g.sh - g.ph + i * g.dh;
            const w = ow * g.sw - g.pw + j * g.dw;
            if (h < 0 || h >= g.H || w < 0 || w >= g.W) continue;
            const v = x.data[(p * g.H + h) * g.W + w];
            if (at < 0 || v > best || Number.isNaN(v)) {
              best = v;
              at = h * g.W + w;
            }
          }
        values[(p * g.OH + oh) * g.OW + ow] = best;
        indices[(p * g.OH + oh) * g.OW + ow] = at;
      }
  return { values: { data: values, shape }, indices: { data: indices, shape: [...shape] } };
}

/** Float64 reference of maxPool2dBackward on the CPU: each dy added at the input position its index names. */
export function maxPool2dBackwardRef(
  dy: F64,
  indices: F64,
  inputShape: readonly number[],
  opts: MaxPool2dOptions,
): F64 {
  const g = maxPool2dGeometry('maxPool2dBackwardRef', inputShape, opts);
  checkPooledShape('maxPool2dBackwardRef', g, inputShape, [
    ['dy', dy.shape],
    ['indices', indices.shape],
  ]);
  const dx = new Float64Array(g.N * g.C * g.H * g.W);
  const plane = g.OH * g.OW;
  for (let o = 0; o < dy.data.length; o++) dx[Math.floor(o / plane) * g.H * g.W + indices.data[o]] += dy.data[o];
  return { data: dx, shape: [...inputShape] };
}
