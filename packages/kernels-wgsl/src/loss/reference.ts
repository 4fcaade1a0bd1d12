// Float64 references for the loss kernels.

import type { F64 } from '../common/f64.js';
import type { CrossEntropyOptions } from './loss.js';
import type { Reduction } from './nll.js';
import { classLabels } from './labels.js';

function rowsOf(x: F64): [number, number] {
  const C = x.shape[x.shape.length - 1];
  return [C === 0 ? 0 : x.data.length / C, C];
}

function mapRows(x: F64, f: (row: Float64Array, out: Float64Array, r: number) => void): F64 {
  const [R, C] = rowsOf(x);
  const data = new Float64Array(x.data.length);
  for (let r = 0; r < R; r++) f(x.data.subarray(r * C, (r + 1) * C), data.subarray(r * C, (r + 1) * C), r);
  return { data, shape: [...x.shape] };
}

function logSoftmaxRow(row: Float64Array, out: Float64Array): void {
  const m = Math.max(...row);
  let se = 0;
  for (const v of row) se += Math.exp(v - m);
  const lse = m + Math.log(se);
  for (let j = 0; j < row.length; j++) out[j] = row[j] - lse;
}

/** Float64 reference of logSoftmax on the CPU (what the tests check the kernel against). */
export const logSoftmaxRef = (x: F64): F64 => mapRows(x, logSoftmaxRow);
/** Float64 reference of softmax on the CPU (what the tests check the kernel against). */
export const softmaxRef = (x: F64): F64 =>
  mapRows(x, (row, out) => {
    logSoftmaxRow(row, out);
    for (let j = 0; j < out.length; j++) out[j] = Math.exp(out[j]);
  });

/** Float64 reference of softmaxBackward on the CPU (what the tests check the kernel against). */
export function softmaxBackwardRef(dy: F64, y: F64): F64 {
  const C = rowsOf(dy)[1];
  return mapRows(dy, (row, out, r) => {
    const yr = y.data.subarray(r * C, (r + 1) * C);
    let s = 0;
    for (let j = 0; j < C; j++) s += row[j] * yr[j];
    for (let j = 0; j < C; j++) out[j] = yr[j] * (row[j] - s);
  });
}

/** Float64 reference of logSoftmaxBackward on the CPU (what the tests check the kernel against). */
export function logSoftmaxBackwardRef(dy: F64, y: F64): F64 {
  const C = rowsOf(dy)[1];
  return mapRows(dy, (row, out, r) => {
    let s = 0;
    for (const v of row) s += v;
    for (let j = 0; j < C; j++) out[j] = row[j] - Math.exp(y.data[r * C + j]) * s;
  });
}

/** Float64 reference of softmaxCrossEntropy on the CPU (what the tests check the kernel against). */
export function softmaxCrossEntropyRef(
  logits: F64,
  labels: F64,
  opts: CrossEntropyOptions = {},
): { loss: F64; dlogits: F64 } {
  const [N, C] = logits.shape;
  classLabels('softmaxCrossEntropyRef', labels.data, C);
  const s = opts.labelSmoothing ?? 0;
  const logp = logSoftmaxRef(logits);
  let loss = 0;
  const d = new Float64Array(N * C);
  for (let r = 0; r < N; r++) {
    const y = labels.data[r];
    for (let j = 0; j < C; j++) {
      const t = (j === y ? 1 - s : 0) + s / C;
      loss -= t * logp.data[r * C + j];
      d[r * C + j] = (Math.exp(logp.data[r * C + j]) - t) / N;
    }
  }
  return { loss: { data: Float64Array.of(loss / N), shape: [1] }, dlogits: { data: d, shape: [N, C] } };
}

/** Float64 reference of argmax on the CPU (what the tests check the kernel against). */
export function argmaxRef(x: F64): F64 {
  const [R, C] = rowsOf(x);
  const data = new Float64Array(R);
  for (let r = 0; r < R; r++) {
    let bi = 0;
    for (let j = 1; j < C; j++) if (x.data[r * C + j] > x.data[r * C + bi]) bi = j;
    data[r] = bi;
  }
  return { data, shape: x.shape.slice(0, -1) };
}

/** The new accumulator value (the GPU launcher adds in place). */
export function accuracyCountRef(logits: F64, labels: F64, into?: F64): F64 {
  const am = argmaxRef(logits);
  let hits = 0;
  am.data.forEach((v, i) => (hits += v === labels.data[i] ? 1 : 0));
  return { data: Float64Array.of((into?.data[0] ?? 0) + hits), shape: [1] };
}

/** Float64 reference of accumulate on the CPU (what the tests check the kernel against). */
export function accumulateRef(into: F64, value: F64, scale = 1): F64 {
  return { data: Float64Array.of(into.data[0] + scale * value.data[0]), shape: [...into.shape] };
}

/** [N, C, S] of logProbs [N, C, d...]. */
function nllGeometry(shape: readonly number[]): [number, number, number] {
  return [shape[0], shape[1], shape.slice(2).reduce((a, d) => a * d, 1)];
}

/** Float64 reference of nllLoss (a target outside [0, C) that is not ignoreIndex is an error). */
export function nllLossRef(
  logProbs: F64,
  target: F64,
  weight: F64 | null,
  ignoreIndex: number,
  reduction: Reduction,
): { loss: F64; totalWeight: F64 | null } {
  const [, C, S] = nllGeometry(logProbs.shape);
  const t = classLabels('nllLoss', target.data, C, ignoreIndex);
  const losses = new Float64Array(t.length);
  let total = 0;
  t.forEach((c, e) => {
    if (c === ignoreIndex) return;
    const w = weight ? weight.data[c] : 1;
    const n = Math.floor(e / S);
    losses[e] = -w * logProbs.data[(n * C + c) * S + (e % S)];
    total += w;
  });
  if (reduction === 'none') return { loss: { data: losses, shape: [...target.shape] }, totalWeight: null };
  const sum = losses.reduce((a, v) => a + v, 0);
  const loss = reduction === 'mean' ? (total === 0 ? NaN : sum / total) : sum;
  return { loss: { data: Float64Array.of(loss), shape: [] }, totalWeight: { data: Float64Array.of(total), shape: [] } };
}

/** Float64 reference of nllLossBackward. */
export function nllLossBackwardRef(
  dy: F64,
  target: F64,
  weight: F64 | null,
  totalWeight: F64 | null,
  shape: readonly number[],
  ignoreIndex: number,
  reduction: Reduction,
): F64 {
  const [, C, S] = nllGeometry(shape);
  const dx = new Float64Array(shape.reduce((a, d) => a * d, 1));
  target.data.forEach((c, e) => {
    if (c === ignoreIndex || c < 0 || c >= C) return;
    const g = reduction === 'none' ? dy.data[e] : reduction === 'mean' ? dy.data[0] / totalWeight!.data[0] : dy.data[0];
    const n = Math.floor(e / S);
    dx[(n * C + c) * S + (e % S)] = -(weight ? weight.data[c] : 1) * g;
  });
  return { data: dx, shape: [...shape] };
}

/** Float64 reference of bceWithLogits (weights broadcast as trailing dims, as the kernel). */
export function bceWithLogitsRef(x: F64, t: F64, weight: F64 | null, posWeight: F64 | null): F64 {
  const data = x.data.map((xv, k) => {
    const tv = t.data[k];
    const lw = posWeight ? 1 + (posWeight.data[k % posWeight.data.length] - 1) * tv : 1;
    const w = weight ? weight.data[k % weight.data.length] : 1;
    return w * ((1 - tv) * xv + lw * (Math.max(-xv, 0) + Math.log1p(Math.exp(-Math.abs(xv)))));
  });
  return { data, shape: [...x.shape] };
}

/** Float64 reference of bceWithLogitsBackward. */
export function bceWithLogitsBackwardRef(
  dy: F64,
  x: F64,
  t: F64,
  weight: F64 | null,
  posWeight: F64 | null,
  reduction: Reduction,
): { dx: F64; dt: F64 } {
  const n = x.data.length;
  const dx = new Float64Array(n);
  const dt = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const [xv, tv] = [x.data[k], t.data[k]];
    const pw = posWeight ? posWeight.data[k % posWeight.data.length] : 1;
    const w = weight ? weight.data[k % weight.data.length] : 1;
    const g = w * (reduction === 'none' ? dy.data[k] : dy.data[0] / (reduction === 'mean' ? n : 1));
    const lw = 1 + (pw - 1) * tv;
    const sp = Math.max(-xv, 0) + Math.log1p(Math.exp(-Math.abs(xv)));
    dx[k] = g * (lw / (1 + Math.exp(-xv)) - pw * tv);
    dt[k] = g * ((pw - 1) * sp - xv);
  }
  return { dx: { data: dx, shape: [...x.shape] }, dt: { data: dt, shape: [...x.shape] } };
}

/** Float64 reference of squaredError. */
export function squaredErrorRef(a: F64, b: F64): F64 {
  return { data: a.data.map((v, i) => (v - b.data[i]) ** 2), shape: [...a.shape] };
}

/** Float64 reference of squaredErrorBackward. */
export function squaredErrorBackwardRef(dy: F64, a: F64, b: F64, reduction: Reduction): { da: F64; db: F64 } {
  const n = a.data.length;
  const scale = reduction === 'mean' ? 1 / n : 1;
  const da = a.data.map((v, i) => 2 * (v - b.data[i]) * (reduction === 'none' ? dy.data[i] : dy.data[0]) * scale);
  return { da: { data: da, shape: [...a.shape] }, db: { data: da.map((v) => -v), shape: [...a.shape] } };
}
