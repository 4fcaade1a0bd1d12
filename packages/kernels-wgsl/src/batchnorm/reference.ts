// Float64 references for BatchNorm2d (two-pass statistics).

import type { F64 } from '../common/f64.js';
import type { BatchNormOptions } from './batchnorm.js';

function dims(x: F64): [number, number, number] {
  const [N, C, H, W] = x.shape;
  return [N, C, H * W];
}

function perChannel(x: F64, f: (c: number, i: number) => void): void {
  const [N, C, HW] = dims(x);
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let k = 0; k < HW; k++) f(c, (n * C + c) * HW + k);
}

function stats(x: F64): { mean: Float64Array; varBiased: Float64Array; M: number } {
  const [N, C, HW] = dims(x);
  const M = N * HW;
  const mean = new Float64Array(C);
  const v = new Float64Array(C);
  perChannel(x, (c, i) => (mean[c] += x.data[i]));
  for (let c = 0; c < C; c++) mean[c] /= M;
  perChannel(x, (c, i) => (v[c] += (x.data[i] - mean[c]) ** 2));
  for (let c = 0; c < C; c++) v[c] /= M;
  return { mean, varBiased: v, M };
}

/** What batchNormTrainRef returns: the output, the saved statistics and the updated running ones. */
export interface BatchNormTrainRefResult {
  y: F64;
  saveMean: F64;
  saveInvStd: F64;
  /** The updated running statistics (the GPU launcher updates them in place). */
  runningMean: F64;
  runningVar: F64;
}

/** relu(y) for relu, relu(y + residual) for addRelu (Math.max keeps a NaN, as the kernels). */
function epilogue(y: Float64Array, relu: boolean, residual?: F64): Float64Array {
  if (residual) return y.map((v, i) => Math.max(v + residual.data[i], 0));
  return relu ? y.map((v) => Math.max(v, 0)) : y;
}

function trainRef(
  relu: boolean,
  residual: F64 | undefined,
  x: F64,
  gamma: F64,
  beta: F64,
  runningMean: F64,
  runningVar: F64,
  opts: BatchNormOptions,
): BatchNormTrainRefResult {
  const momentum = opts.momentum ?? 0.1;
  const eps = opts.eps ?? 1e-5;
  const C = x.shape[1];
  const { mean, varBiased, M } = stats(x);
  const inv = varBiased.map((v) => 1 / Math.sqrt(v + eps));
  const y = new Float64Array(x.data.length);
  perChannel(x, (c, i) => (y[i] = (x.data[i] - mean[c]) * inv[c] * gamma.data[c] + beta.data[c]));
  const rm = runningMean.data.map((v, c) => (1 - momentum) * v + momentum * mean[c]);
  const rv = runningVar.data.map((v, c) => (1 - momentum) * v + (momentum * varBiased[c] * M) / (M - 1));
  return {
    y: { data: epilogue(y, relu, residual), shape: [...x.shape] },
    saveMean: { data: mean, shape: [C] },
    saveInvStd: { data: inv, shape: [C] },
    runningMean: { data: rm, shape: [C] },
    runningVar: { data: rv, shape: [C] },
  };
}

/** Float64 reference of batchNormTrain on the CPU (what the tests check the kernel against). */
export const batchNormTrainRef = (
  x: F64,
  gamma: F64,
  beta: F64,
  runningMean: F64,
  runningVar: F64,
  opts: BatchNormOptions = {},
) => trainRef(false, undefined, x, gamma, beta, runningMean, runningVar, opts);
/** Float64 reference of batchNormTrainRelu on the CPU (what the tests check the kernel against). */
export const batchNormTrainReluRef = (
  x: F64,
  gamma: F64,
  beta: F64,
  runningMean: F64,
  runningVar: F64,
  opts: BatchNormOptions = {},
) => trainRef(true, undefined, x, gamma, beta, runningMean, runningVar, opts);
/** Float64 reference of batchNormTrainAddRelu on the CPU (what the tests check the kernel against). */
export const batchNormTrainAddReluRef = (
  x: F64,
  residual: F64,
  gamma: F64,
  beta: F64,
  runningMean: F64,
  runningVar: F64,
  opts: BatchNormOptions = {},
) => trainRef(true, residual, x, gamma, beta, runningMean, runningVar, opts);

/** Float64 reference of batchNormEval on the CPU (what the tests check the kernel against). */
export function batchNormEvalRef(x: F64, gamma: F64, beta: F64, runningMean: F64, runningVar: F64, eps = 1e-5): F64 {
  const y = new Float64Array(x.data.length);
  perChannel(x, (c, i) => {
    y[i] = ((x.data[i] - runningMean.data[c]) / Math.sqrt(runningVar.data[c] + eps)) * gamma.data[c] + beta.data[c];
  });
  return { data: y, shape: [...x.shape] };
}

/** Float64 reference of batchNormEvalRelu on the CPU (what the tests check the kernel against). */
export function batchNormEvalReluRef(
  x: F64,
  gamma: F64,
  beta: F64,
  runningMean: F64,
  runningVar: F64,
  eps = 1e-5,
): F64 {
  const y = batchNormEvalRef(x, gamma, beta, runningMean, runningVar, eps);
  return { data: epilogue(y.data, true), shape: y.shape };
}

/** Float64 reference of batchNormEvalAddRelu on the CPU (what the tests check the kernel against). */
export function batchNormEvalAddReluRef(
  x: F64,
  residual: F64,
  gamma: F64,
  beta: F64,
  runningMean: F64,
  runningVar: F64,
  eps = 1e-5,
): F64 {
  const y = batchNormEvalRef(x, gamma, beta, runningMean, runningVar, eps);
  return { data: epilogue(y.data, true, residual), shape: y.shape };
}

/** Through the ReLU as PyTorch's threshold_backward: 0 where y <= 0 (a NaN y passes dy). */
const reluGrad = (dy: Float64Array, y: F64) => dy.map((v, i) => (y.data[i] <= 0 ? 0 : v));

/** The upstream gradient: dy, or dy + dy2 where a second one is given. */
const upstream = (dy: F64, dy2: F64 | undefined) => (dy2 ? dy.data.map((v, i) => v + dy2.data[i]) : dy.data);

function backwardRef(
  dyIn: Float64Array,
  y: F64 | undefined,
  x: F64,
  gamma: F64,
  saveMean: F64,
  saveInvStd: F64,
): { dx: F64; dgamma: F64; dbeta: F64 } {
  const C = x.shape[1];
  const M = x.data.length / C;
  const dy = y ? reluGrad(dyIn, y) : dyIn;
  const dgamma = new Float64Array(C);
  const dbeta = new Float64Array(C);
  const xhat = (c: number, i: number) => (x.data[i] - saveMean.data[c]) * saveInvStd.data[c];
  perChannel(x, (c, i) => {
    dbeta[c] += dy[i];
    dgamma[c] += dy[i] * xhat(c, i);
  });
  const dx = new Float64Array(x.data.length);
  perChannel(x, (c, i) => {
    dx[i] = gamma.data[c] * saveInvStd.data[c] * (dy[i] - dbeta[c] / M - (xhat(c, i) * dgamma[c]) / M);
  });
  return {
    dx: { data: dx, shape: [...x.shape] },
    dgamma: { data: dgamma, shape: [C] },
    dbeta: { data: dbeta, shape: [C] },
  };
}

/** Float64 reference of batchNormBackward on the CPU (what the tests check the kernel against). */
export const batchNormBackwardRef = (dy: F64, x: F64, gamma: F64, saveMean: F64, saveInvStd: F64) =>
  backwardRef(dy.data, undefined, x, gamma, saveMean, saveInvStd);

/** Float64 reference of batchNormReluBackward on the CPU (what the tests check the kernel against). */
export const batchNormReluBackwardRef = (
  dy: F64,
  y: F64,
  x: F64,
  gamma: F64,
  _beta: F64,
  saveMean: F64,
  saveInvStd: F64,
  dy2?: F64,
) => backwardRef(upstream(dy, dy2), y, x, gamma, saveMean, saveInvStd);

/** Float64 reference of batchNormAddReluBackward on the CPU (what the tests check the kernel against). */
export function batchNormAddReluBackwardRef(
  dy: F64,
  out: F64,
  x: F64,
  gamma: F64,
  saveMean: F64,
  saveInvStd: F64,
  dy2?: F64,
): { dx: F64; dgamma: F64; dbeta: F64; dresidual: F64 } {
  const g = backwardRef(upstream(dy, dy2), out, x, gamma, saveMean, saveInvStd);
  return { ...g, dresidual: { data: reluGrad(upstream(dy, dy2), out), shape: [...x.shape] } };
}
