// BatchNorm2d launchers (NCHW, per-channel statistics; PyTorch semantics).

import { Tensor, formatShape, type BufferRange } from '@wgtorch/tensor';
import { kernelProfile } from '../profile.js';
import { KernelArgumentError } from '../common/errors.js';
import { checkF32, flatGrid, vecBinding } from '../elementwise/launch.js';
import {
  APPLY_ITEMS,
  APPLY_WG,
  applyInputs,
  applyKernel,
  backwardCombineKernel,
  backwardFusedKernel,
  backwardSumsKernel,
  statsCombineKernel,
  statsKernel,
  trainFusedKernel,
  type ApplyPass,
  type Epilogue,
} from './wgsl.js';

/** Options of the batch norm kernels, as PyTorch's BatchNorm2d. */
export interface BatchNormOptions {
  /** Running-stat momentum (PyTorch's default 0.1). */
  momentum?: number;
  /** Added to the variance (default 1e-5). */
  eps?: number;
}

/** What batchNormTrain returns: the output and the statistics backward needs. */
export interface BatchNormTrainResult {
  y: Tensor;
  /** Batch mean per channel [C]. */
  saveMean: Tensor;
  /** 1 / sqrt(biased batch variance + eps) per channel [C]. */
  saveInvStd: Tensor;
}

/** Gradients of batch norm for x, gamma and beta. */
export interface BatchNormGrads {
  dx: Tensor;
  dgamma: Tensor;
  dbeta: Tensor;
}

/** Gradients of relu(batchNorm(x) + residual): batch norm's, and the residual's. */
export interface BatchNormAddReluGrads extends BatchNormGrads {
  dresidual: Tensor;
}

interface Geometry {
  N: number;
  C: number;
  HW: number;
  vec: boolean;
}

function geometry(kernel: string, x: Tensor, xName = 'x'): Geometry {
  checkF32(kernel, xName, x);
  if (x.shape.length !== 4) {
    throw new KernelArgumentError(
      kernel,
      `${xName} must be 4-D NCHW, got ${formatShape(x.shape)}; reshape [N, C] inputs to [N, C, 1, 1].`,
    );
  }
  const [N, C, H, W] = x.shape;
  return { N, C, HW: H * W, vec: (H * W) % 4 === 0 };
}

function checkChannelVec(kernel: string, C: number, named: [string, Tensor][]): void {
  for (const [name, t] of named) {
    checkF32(kernel, name, t);
    if (t.shape.length !== 1 || t.shape[0] !== C) {
      throw new KernelArgumentError(
        kernel,
        `${name} must be [${C}] (one value per channel of x), got ${formatShape(t.shape)}.`,
      );
    }
  }
}

function checkLike(kernel: string, x: Tensor, named: [string, Tensor][]): void {
  for (const [name, t] of named) {
    checkF32(kernel, name, t);
    if (t.shape.length !== x.shape.length || t.shape.some((d, i) => d !== x.shape[i])) {
      throw new KernelArgumentError(
        kernel,
        `${name} ${formatShape(t.shape)} must have the shape of x ${formatShape(x.shape)}.`,
      );
    }
  }
}

/**
 * How the per-channel reductions split. On a CPU adapter (lavapipe: 2 cores) one 16-wide
 * workgroup per channel wins; a GPU wants hundreds of workgroups, so each channel's units
 * split into S chunks of 256-wide workgroups whose partials a combine kernel merges.
 */
function reductionPlan(g: Geometry): { hw: number; wg: number; S: number; chunk: number; fused: boolean } {
  const hw = g.vec ? g.HW / 4 : g.HW;
  const units = g.N * hw;
  // Unsplit, one kernel per channel also applies the result (trainFusedKernel, backwardFusedKernel),
  // saving the apply dispatch and a second read of x.
  const profile = kernelProfile();
  const forceSplit = profile.options.batchNormSplit === true;
  const fused = profile.options.batchNormFused !== false && profile.batchNormFusable;
  // 16 lanes a workgroup: on lavapipe the tree merge and its barriers cost more with more lanes.
  if (!profile.batchNormSplit && !forceSplit) return { hw, wg: 16, S: 1, chunk: Math.max(1, units), fused };
  const wg = 256;
  const want = forceSplit
    ? Math.min(units, 5)
    : Math.max(1, Math.min(Math.ceil(1024 / g.C), Math.floor(units / (wg * 4)), 1024));
  const chunk = Math.max(1, Math.ceil(units / want));
  return { hw, wg, S: Math.max(1, Math.ceil(units / chunk)), chunk, fused: false };
}

/**
 * The elementwise apply pass over every element of x, into `outs` (dx, then dresidual for addRelu);
 * perUnit holds dy2 after dy where the backward's upstream gradient is dy + dy2.
 */
function apply(
  pass: ApplyPass,
  epi: Epilogue,
  g: Geometry,
  perUnit: Tensor[],
  perChannel: Tensor[],
  outs: Tensor[],
  extra: { eps: number } | { invM: number } | object = {},
  dy2 = false,
): void {
  const hw = g.vec ? g.HW / 4 : g.HW;
  if (g.N * g.C * hw === 0) return;
  // whole planes per workgroup, about APPLY_WG * APPLY_ITEMS units
  const nb = Math.max(1, Math.min(g.N, Math.floor((APPLY_WG * APPLY_ITEMS) / hw)));
  const bind = g.vec ? vecBinding : (t: Tensor) => t.binding();
  const inputs = [...perUnit.map(bind), ...perChannel];
  const bufs: Record<string, Tensor | BufferRange> = {};
  const { names, outs: outNames } = applyInputs(pass, epi, dy2);
  names.forEach((name, i) => (bufs[name] = inputs[i]));
  outNames.forEach((name, i) => (bufs[name] = bind(outs[i])));
  applyKernel(pass, epi, g.vec, hw, nb, dy2).launch(bufs, { N: g.N, C: g.C, ...extra }, [Math.ceil(g.N / nb), g.C]);
}

function train(
  kernel: string,
  epi: Epilogue,
  x: Tensor,
  residual: Tensor | undefined,
  gamma: Tensor,
  beta: Tensor,
  runningMean: Tensor,
  runningVar: Tensor,
  opts: BatchNormOptions,
): BatchNormTrainResult {
  const g = geometry(kernel, x);
  if (residual) checkLike(kernel, x, [['residual', residual]]);
  checkChannelVec(kernel, g.C, [
    ['gamma', gamma],
    ['beta', beta],
    ['runningMean', runningMean],
    ['runningVar', runningVar],
  ]);
  if (runningMean.buffer === runningVar.buffer) {
    throw new KernelArgumentError(
      kernel,
      'runningMean and runningVar are the same buffer; both are updated in place, so pass two tensors.',
    );
  }
  const M = g.N * g.HW;
  if (M < 2) {
    throw new KernelArgumentError(
      kernel,
      `x ${formatShape(x.shape)} has ${M} value per channel; training needs more than 1 ` +
        '(use a larger batch or batchNormEval).',
    );
  }
  const momentum = opts.momentum ?? 0.1;
  const eps = opts.eps ?? 1e-5;
  const saveMean = Tensor.empty([g.C], 'f32', `${kernel}.saveMean`);
  const saveInvStd = Tensor.empty([g.C], 'f32', `${kernel}.saveInvStd`);
  const r = reductionPlan(g);
  const p = { N: g.N, C: g.C, S: r.S, chunk: r.chunk, M, momentum, eps, unbias: M / (M - 1) };
  const bind = g.vec ? vecBinding : (t: Tensor) => t.binding();
  const xb = bind(x);
  const stats = { saveMean, saveInvStd, runningMean, runningVar };
  if (r.fused) {
    const y = Tensor.empty(x.shape, 'f32', kernel);
    const res = residual ? { residual: bind(residual) } : {};
    trainFusedKernel(g.vec, epi, r.hw, r.wg).launch({ x: xb, ...res, gamma, beta, ...stats, y: bind(y) }, p, [1, g.C]);
    return { y, saveMean, saveInvStd };
  }
  if (r.S === 1) {
    statsKernel(g.vec, r.hw, r.wg, false).launch({ x: xb, ...stats }, p, [1, g.C]);
  } else {
    const part = Tensor.empty([g.C, r.S, 3], 'f32', `${kernel}.partial`);
    statsKernel(g.vec, r.hw, r.wg, true).launch({ x: xb, part }, p, [r.S, g.C]);
    statsCombineKernel.launch({ part, ...stats }, p, flatGrid(g.C, 64).groups);
    part.dispose();
  }
  const y = Tensor.empty(x.shape, 'f32', kernel);
  apply('train', epi, g, residual ? [x, residual] : [x], [gamma, beta, saveMean, saveInvStd], [y]);
  return { y, saveMean, saveInvStd };
}

/**
 * Training-mode BatchNorm2d: normalizes with the batch mean and biased variance and updates
 * runningMean / runningVar in place (momentum; the running variance takes the unbiased one).
 */
export function batchNormTrain(
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  runningMean: Tensor,
  runningVar: Tensor,
  opts: BatchNormOptions = {},
): BatchNormTrainResult {
  return train('batchNormTrain', 'none', x, undefined, gamma, beta, runningMean, runningVar, opts);
}

/** relu(batchNormTrain(...).y) in one pass; saveMean / saveInvStd as batchNormTrain. */
export function batchNormTrainRelu(
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  runningMean: Tensor,
  runningVar: Tensor,
  opts: BatchNormOptions = {},
): BatchNormTrainResult {
  return train('batchNormTrainRelu', 'relu', x, undefined, gamma, beta, runningMean, runningVar, opts);
}

/**
 * relu(batchNormTrain(x).y + residual) in one pass (ResNet's block end); residual has the shape
 * of x. saveMean / saveInvStd as batchNormTrain.
 */
export function batchNormTrainAddRelu(
  x: Tensor,
  residual: Tensor,
  gamma: Tensor,
  beta: Tensor,
  runningMean: Tensor,
  runningVar: Tensor,
  opts: BatchNormOptions = {},
): BatchNormTrainResult {
  return train('batchNormTrainAddRelu', 'addRelu', x, residual, gamma, beta, runningMean, runningVar, opts);
}

function evaluate(
  kernel: string,
  epi: Epilogue,
  x: Tensor,
  residual: Tensor | undefined,
  gamma: Tensor,
  beta: Tensor,
  runningMean: Tensor,
  runningVar: Tensor,
  eps: number,
): Tensor {
  const g = geometry(kernel, x);
  if (residual) checkLike(kernel, x, [['residual', residual]]);
  checkChannelVec(kernel, g.C, [
    ['gamma', gamma],
    ['beta', beta],
    ['runningMean', runningMean],
    ['runningVar', runningVar],
  ]);
  const y = Tensor.empty(x.shape, 'f32', kernel);
  apply('eval', epi, g, residual ? [x, residual] : [x], [gamma, beta, runningMean, runningVar], [y], { eps });
  return y;
}

/** Eval-mode BatchNorm2d with the running statistics. */
export function batchNormEval(
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  runningMean: Tensor,
  runningVar: Tensor,
  eps = 1e-5,
): Tensor {
  return evaluate('batchNormEval', 'none', x, undefined, gamma, beta, runningMean, runningVar, eps);
}

/** relu(batchNormEval(...)) in one pass. */
export function batchNormEvalRelu(
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  runningMean: Tensor,
  runningVar: Tensor,
  eps = 1e-5,
): Tensor {
  return evaluate('batchNormEvalRelu', 'relu', x, undefined, gamma, beta, runningMean, runningVar, eps);
}

/** relu(batchNormEval(x) + residual) in one pass; residual has the shape of x. */
export function batchNormEvalAddRelu(
  x: Tensor,
  residual: Tensor,
  gamma: Tensor,
  beta: Tensor,
  runningMean: Tensor,
  runningVar: Tensor,
  eps = 1e-5,
): Tensor {
  return evaluate('batchNormEvalAddRelu', 'addRelu', x, residual, gamma, beta, runningMean, runningVar, eps);
}

/**
 * The gradients for the upstream gradient dy (+ dy2 where given); with addRelu also dresidual
 * (the gradient masked by y > 0).
 */
function backward(
  kernel: string,
  epi: Epilogue,
  dy: Tensor,
  y: Tensor | undefined,
  x: Tensor,
  gamma: Tensor,
  saveMean: Tensor,
  saveInvStd: Tensor,
  dy2: Tensor | undefined,
): BatchNormGrads & { dresidual?: Tensor } {
  const g = geometry(kernel, x);
  // addRelu's launcher calls its mask `out` (the op's output), relu's `y`.
  const like: [string, Tensor][] = [['dy', dy]];
  if (y) like.push([epi === 'addRelu' ? 'out' : 'y', y]);
  if (dy2) like.push(['dy2', dy2]);
  checkLike(kernel, x, like);
  checkChannelVec(kernel, g.C, [
    ['gamma', gamma],
    ['saveMean', saveMean],
    ['saveInvStd', saveInvStd],
  ]);
  const dgamma = Tensor.empty([g.C], 'f32', `${kernel}.dgamma`);
  const dbeta = Tensor.empty([g.C], 'f32', `${kernel}.dbeta`);
  const dx = Tensor.empty(x.shape, 'f32', kernel);
  const dresidual = epi === 'addRelu' ? Tensor.empty(x.shape, 'f32', `${kernel}.dresidual`) : undefined;
  const outs = dresidual ? { dx, dresidual } : { dx };
  const bind = g.vec ? vecBinding : (t: Tensor) => t.binding();
  const perUnit = [dy, ...(dy2 ? [dy2] : []), x, ...(y ? [y] : [])];
  const units = { dy: bind(dy), ...(dy2 ? { dy2: bind(dy2) } : {}), x: bind(x), ...(y ? { y: bind(y) } : {}) };
  const r = reductionPlan(g);
  const M = g.N * g.HW;
  const p = { N: g.N, C: g.C, S: r.S, chunk: r.chunk, M };
  if (r.fused) {
    const outBufs = dresidual ? { dx: bind(dx), dresidual: bind(dresidual) } : { dx: bind(dx) };
    backwardFusedKernel(g.vec, epi, r.hw, r.wg, !!dy2).launch(
      { ...units, gamma, saveMean, saveInvStd, dgamma, dbeta, ...outBufs },
      p,
      [1, g.C],
    );
    return { ...outs, dgamma, dbeta };
  }
  const masked = epi !== 'none';
  if (r.S === 1) {
    backwardSumsKernel(g.vec, masked, r.hw, r.wg, false, !!dy2).launch(
      { ...units, saveMean, saveInvStd, dgamma, dbeta },
      p,
      [1, g.C],
    );
  } else {
    const part = Tensor.empty([g.C, r.S, 2], 'f32', `${kernel}.partial`);
    backwardSumsKernel(g.vec, masked, r.hw, r.wg, true, !!dy2).launch({ ...units, saveMean, saveInvStd, part }, p, [
      r.S,
      g.C,
    ]);
    backwardCombineKernel.launch({ part, saveInvStd, dgamma, dbeta }, p, flatGrid(g.C, 64).groups);
    part.dispose();
  }
  const invM = M > 0 ? 1 / M : 0;
  apply(
    'backward',
    epi,
    g,
    perUnit,
    [gamma, saveMean, saveInvStd, dgamma, dbeta],
    Object.values(outs),
    { invM },
    !!dy2,
  );
  return { ...outs, dgamma, dbeta };
}

/** Gradients of training-mode BatchNorm2d for the upstream gradient dy. */
export function batchNormBackward(
  dy: Tensor,
  x: Tensor,
  gamma: Tensor,
  saveMean: Tensor,
  saveInvStd: Tensor,
): BatchNormGrads {
  return backward('batchNormBackward', 'none', dy, undefined, x, gamma, saveMean, saveInvStd, undefined);
}

/**
 * Gradients of relu(batchNormTrain(x)) given dy for its output and y, that relu output.
 * `beta` is accepted for symmetry with the forward; the gradient does not need it. With dy2 (the
 * shape of dy) the upstream gradient is dy + dy2, summed as the kernel reads it.
 */
export function batchNormReluBackward(
  dy: Tensor,
  y: Tensor,
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  saveMean: Tensor,
  saveInvStd: Tensor,
  dy2?: Tensor,
): BatchNormGrads {
  checkF32('batchNormReluBackward', 'beta', beta);
  return backward('batchNormReluBackward', 'relu', dy, y, x, gamma, saveMean, saveInvStd, dy2);
}

/**
 * Gradients of out = relu(batchNormTrain(x).y + residual) given dy for out and out itself, in
 * one pass: dy masked by out > 0 (a NaN out passes dy, as PyTorch's threshold_backward) is
 * dresidual, and batch norm's upstream gradient. With dy2 (the shape of dy) the upstream
 * gradient is dy + dy2, summed as the kernel reads it.
 */
export function batchNormAddReluBackward(
  dy: Tensor,
  out: Tensor,
  x: Tensor,
  gamma: Tensor,
  saveMean: Tensor,
  saveInvStd: Tensor,
  dy2?: Tensor,
): BatchNormAddReluGrads {
  const g = backward('batchNormAddReluBackward', 'addRelu', dy, out, x, gamma, saveMean, saveInvStd, dy2);
  return { dx: g.dx, dgamma: g.dgamma, dbeta: g.dbeta, dresidual: g.dresidual! };
}
