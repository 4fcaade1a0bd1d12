// Normalization.

import { formatShape } from '@wgtorch/tensor';
import type { Backend, Raw } from '../backend.js';
import { apply, defineOp, isGradEnabled, tidy, Tensor } from '../tensor.js';
import { sameShape } from '../shape.js';
import { andThen, type Grads } from './common.js';
import { add, mul, relu, rsqrt, sub } from './elementwise.js';
import { reshape } from './shape.js';

interface BnAttrs {
  runningMean: Raw | null;
  runningVar: Raw | null;
  momentum: number;
  eps: number;
}

/** A train forward's result when nothing is recorded: the batch statistics released. */
function withoutStats(b: Backend, r: { y: Raw; saveMean: Raw; saveInvStd: Raw }): { y: Raw } {
  b.release(r.saveMean);
  b.release(r.saveInvStd);
  return { y: r.y };
}

/** The gradients (one per input, in the inputs' order) that are needed; the others released. */
function neededGrads(b: Backend, grads: Raw[], needs: boolean[]): Grads {
  return grads.map((r, i) => (needs[i] ? r : (b.release(r), null)));
}

const batchNormTrainOp = defineOp<BnAttrs>({
  name: 'batchNorm2d',
  forward: (b, [x, gamma, beta], a, record) => {
    const r = b.k.batchNormTrain(x, gamma, beta, a.runningMean!, a.runningVar!, { momentum: a.momentum, eps: a.eps });
    if (!record) return withoutStats(b, r);
    return { y: r.y, saved: [b.retain(x), b.retain(gamma), r.saveMean, r.saveInvStd] };
  },
  backward: (b, dy, { saved: [x, gamma, mean, invStd], needs }) => {
    const g = b.k.batchNormBackward(dy, x, gamma, mean, invStd);
    return neededGrads(b, [g.dx, g.dgamma, g.dbeta], needs);
  },
});

// Its output often feeds two ops (a ResNet block's conv and shortcut): the backward sums their
// gradients as it reads them (sumsGrads), not an add dispatch before it.
const batchNormTrainReluOp = defineOp<BnAttrs>({
  name: 'batchNormRelu2d',
  sumsGrads: true,
  forward: (b, [x, gamma, beta], a, record) => {
    const r = b.k.batchNormTrainRelu(x, gamma, beta, a.runningMean!, a.runningVar!, {
      momentum: a.momentum,
      eps: a.eps,
    });
    if (!record) return withoutStats(b, r);
    return { y: r.y, saved: [b.retain(r.y), b.retain(x), b.retain(gamma), b.retain(beta), r.saveMean, r.saveInvStd] };
  },
  backward: (b, dy, { saved: [y, x, gamma, beta, mean, invStd], needs, dy2 }) => {
    const g = b.k.batchNormReluBackward(dy, y, x, gamma, beta, mean, invStd, dy2);
    return neededGrads(b, [g.dx, g.dgamma, g.dbeta], needs);
  },
});

// Inputs [x, residual, gamma, beta]; one kernel forward and one backward, which also gives dresidual
// and sums the two gradients of a block output that feeds the next block's conv and shortcut.
const batchNormTrainAddReluOp = defineOp<BnAttrs>({
  name: 'batchNormAddRelu2d',
  sumsGrads: true,
  forward: (b, [x, residual, gamma, beta], a, record) => {
    const r = b.k.batchNormTrainAddRelu(x, residual, gamma, beta, a.runningMean!, a.runningVar!, {
      momentum: a.momentum,
      eps: a.eps,
    });
    if (!record) return withoutStats(b, r);
    return { y: r.y, saved: [b.retain(r.y), b.retain(x), b.retain(gamma), r.saveMean, r.saveInvStd] };
  },
  backward: (b, dy, { saved: [out, x, gamma, mean, invStd], needs, dy2 }) => {
    const g = b.k.batchNormAddReluBackward(dy, out, x, gamma, mean, invStd, dy2);
    return neededGrads(b, [g.dx, g.dresidual, g.dgamma, g.dbeta], needs);
  },
});

const batchNormEvalOp = defineOp<BnAttrs>({
  name: 'batchNorm2d',
  forward: (b, [x, gamma, beta], a) => ({ y: b.k.batchNormEval(x, gamma, beta, a.runningMean!, a.runningVar!, a.eps) }),
});

const batchNormEvalReluOp = defineOp<BnAttrs>({
  name: 'batchNormRelu2d',
  forward: (b, [x, gamma, beta], a) => ({
    y: b.k.batchNormEvalRelu(x, gamma, beta, a.runningMean!, a.runningVar!, a.eps),
  }),
});

const batchNormEvalAddReluOp = defineOp<BnAttrs>({
  name: 'batchNormAddRelu2d',
  forward: (b, [x, residual, gamma, beta], a) => ({
    y: b.k.batchNormEvalAddRelu(x, residual, gamma, beta, a.runningMean!, a.runningVar!, a.eps),
  }),
});

/** Options of batchNorm2d (PyTorch's F.batch_norm). */
export interface BatchNormOptions {
  /** Normalize with batch statistics and update the running ones (default false). */
  training?: boolean;
  /** Weight of the new batch statistic in the running average (default 0.1). */
  momentum?: number;
  /** Added to the variance (default 1e-5). */
  eps?: number;
}

/**
 * Batch normalization over N, H, W of x [N, C, H, W]. In training it normalizes with the
 * batch mean and biased variance and updates runningMean/runningVar in place (unbiased
 * variance); otherwise it uses the running statistics.
 */
export function batchNorm2d(
  x: Tensor,
  runningMean: Tensor,
  runningVar: Tensor,
  weight: Tensor,
  bias: Tensor,
  options: BatchNormOptions = {},
): Tensor {
  const attrs = batchNormAttrs(x, runningMean, runningVar, weight, bias, options);
  const C = x.shape[1];
  if (options.training) return apply(batchNormTrainOp, [x, weight, bias], attrs);
  if (!bnNeedsGrad(x, weight, bias)) return apply(batchNormEvalOp, [x, weight, bias], attrs);
  // Differentiable eval mode: y = x * s + (beta - mean * s), s = gamma / sqrt(var + eps), from the ops above.
  const parts: Tensor[] = [];
  const t = (v: Tensor) => (parts.push(v), v);
  try {
    const invStd = t(rsqrt(t(add(runningVar, attrs.eps))));
    const s = t(mul(weight, invStd));
    const shift = t(sub(bias, t(mul(runningMean, s))));
    return add(t(mul(x, t(reshape(s, [1, C, 1, 1])))), t(reshape(shift, [1, C, 1, 1])));
  } finally {
    for (const p of parts) p.dispose();
  }
}

/**
 * relu(batchNorm2d(...)) with the same arguments; in training one fused kernel forward and one
 * backward (no separate normalized tensor is kept).
 */
export function batchNormRelu2d(
  x: Tensor,
  runningMean: Tensor,
  runningVar: Tensor,
  weight: Tensor,
  bias: Tensor,
  options: BatchNormOptions = {},
): Tensor {
  const attrs = batchNormAttrs(x, runningMean, runningVar, weight, bias, options);
  if (options.training) return apply(batchNormTrainReluOp, [x, weight, bias], attrs);
  // Evaluation (no grad): one fused pass; a differentiable eval composes the ops below.
  if (!bnNeedsGrad(x, weight, bias)) return apply(batchNormEvalReluOp, [x, weight, bias], attrs);
  return tidy(() => relu(batchNorm2d(x, runningMean, runningVar, weight, bias, options)));
}

/**
 * relu(batchNorm2d(x, ...) + residual), ResNet's block end, with residual of x's shape; in
 * training one fused kernel forward and one backward (which also gives residual's gradient).
 * A residual that broadcasts composes the ops.
 */
export function batchNormAddRelu2d(
  x: Tensor,
  residual: Tensor,
  runningMean: Tensor,
  runningVar: Tensor,
  weight: Tensor,
  bias: Tensor,
  options: BatchNormOptions = {},
): Tensor {
  const attrs = batchNormAttrs(x, runningMean, runningVar, weight, bias, options);
  const composed = () =>
    tidy(() => relu(add(batchNorm2d(x, runningMean, runningVar, weight, bias, options), residual)));
  if (!sameShape(residual.shape, x.shape)) return composed();
  if (options.training) return apply(batchNormTrainAddReluOp, [x, residual, weight, bias], attrs);
  // Evaluation (no grad): one fused pass; a differentiable eval composes the ops.
  if (!bnNeedsGrad(x, residual, weight, bias)) return apply(batchNormEvalAddReluOp, [x, residual, weight, bias], attrs);
  return composed();
}

/**
 * Whether an eval-mode batch norm must be differentiable. Parameters require grad even under
 * noGrad (evaluation), so the grad mode decides too: else every evaluation would take the
 * composed path (4 broadcast passes over x instead of 1).
 */
function bnNeedsGrad(...inputs: Tensor[]): boolean {
  return isGradEnabled() && inputs.some((t) => t.requiresGrad);
}

/** Checks the arguments of a batch norm and gathers its attrs. */
function batchNormAttrs(
  x: Tensor,
  runningMean: Tensor,
  runningVar: Tensor,
  weight: Tensor,
  bias: Tensor,
  options: BatchNormOptions,
): BnAttrs {
  const C = x.shape[1];
  if (x.ndim !== 4) throw new Error(`batchNorm2d: expects [N, C, H, W], got ${formatShape(x.shape)}.`);
  for (const [name, t] of [
    ['runningMean', runningMean],
    ['runningVar', runningVar],
    ['weight', weight],
    ['bias', bias],
  ] as const) {
    if (t.ndim !== 1 || t.shape[0] !== C)
      throw new Error(`batchNorm2d: ${name} ${formatShape(t.shape)} must be [${C}] for input ${formatShape(x.shape)}.`);
  }
  const momentum = options.momentum ?? 0.1;
  return { runningMean: runningMean.raw, runningVar: runningVar.raw, momentum, eps: options.eps ?? 1e-5 };
}

// ---- layer norm ----

interface LnAttrs {
  D: number;
  eps: number;
  hasWeight: boolean;
  hasBias: boolean;
}

const layerNormOp = defineOp<LnAttrs>({
  name: 'layerNorm',
  forward: (b, xs, a, record) => {
    const x = xs[0];
    const weight = a.hasWeight ? xs[1] : null;
    const bias = a.hasBias ? xs[a.hasWeight ? 2 : 1] : null;
    const r = b.k.layerNorm(x, a.D, weight, bias, a.eps);
    if (!record) {
      b.release(r.mean);
      b.release(r.rstd);
      return { y: r.y };
    }
    return { y: r.y, saved: [b.retain(x), r.mean, r.rstd, ...(weight ? [b.retain(weight)] : [])] };
  },
  backward: (b, dy, { saved: [x, mean, rstd, weight], attrs: a, needs, shapes }) => {
    const g = b.k.layerNormBackward(dy, x, mean, rstd, a.D, weight ?? null, a.hasBias);
    const grads: Grads = [needs[0] ? g.dx : (b.release(g.dx), null)];
    // dweight / dbias come back as [D] or the weight's shape: viewed as each input's own shape.
    for (const r of [g.dweight, g.dbias]) {
      if (!r) continue;
      const i = grads.length;
      grads.push(needs[i] ? andThen(b, r, (t) => b.view(t, shapes[i])) : (b.release(r), null));
    }
    return grads;
  },
});

/**
 * Layer normalization over the trailing dims `normalizedShape` of x (PyTorch's F.layer_norm):
 * (x - mean) / sqrt(var + eps) * weight + bias, with the biased variance of each row; weight and
 * bias (of shape normalizedShape) are optional. One fused kernel forward and one backward.
 */
export function layerNorm(
  x: Tensor,
  normalizedShape: number | readonly number[],
  weight?: Tensor | null,
  bias?: Tensor | null,
  eps = 1e-5,
): Tensor {
  const shape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
  const k = shape.length;
  const tail = x.shape.slice(x.ndim - k);
  if (k === 0 || k > x.ndim || !sameShape(tail, shape))
    throw new Error(
      `layerNorm: normalizedShape ${formatShape(shape)} must be the trailing dims of x ${formatShape(x.shape)} ` +
        `(at least one dim).`,
    );
  for (const [name, t] of [
    ['weight', weight],
    ['bias', bias],
  ] as const) {
    if (t && !sameShape(t.shape, shape))
      throw new Error(`layerNorm: ${name} ${formatShape(t.shape)} must have normalizedShape ${formatShape(shape)}.`);
  }
  if (!(eps >= 0)) throw new Error(`layerNorm: eps must be >= 0, got ${eps}.`);
  const D = shape.reduce((a, d) => a * d, 1);
  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  return apply(layerNormOp, inputs, { D, eps, hasWeight: !!weight, hasBias: !!bias });
}
