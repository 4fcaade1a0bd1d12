// Losses: cross-entropy (fused softmax kernel), negative log-likelihood, binary cross-entropy
// with logits and mean squared error (their own kernels). Each takes PyTorch's `reduction`:
// 'none' (per element), 'mean' (the default) or 'sum'.

import { Tensor as DeviceTensor, formatShape } from '@wgtorch/tensor';
import { classLabels, type Reduction } from '@wgtorch/kernels-wgsl';
import { backendOf, type Raw } from '../backend.js';
import { sameShape } from '../shape.js';
import { apply, defineOp, full, noGrad, tidy, Tensor } from '../tensor.js';
import { andThen } from './common.js';
import { add, mul, neg, sub } from './elementwise.js';
import { indexRaw, withIndices, type IndexData } from './indices.js';
import { logSoftmax, mean, sum } from './reduce.js';

export type { Reduction } from '@wgtorch/kernels-wgsl';

function checkReduction(op: string, reduction: Reduction): void {
  if (reduction !== 'none' && reduction !== 'mean' && reduction !== 'sum')
    throw new Error(`${op}: reduction must be 'none', 'mean' or 'sum', got '${String(reduction)}'.`);
}

/** Per-element losses reduced as asked ('mean' and 'sum' give one value, shape []). */
function reduce(loss: Tensor, reduction: Reduction): Tensor {
  return reduction === 'none' ? loss : reduction === 'sum' ? sum(loss) : mean(loss);
}

// ---- cross-entropy ----

const crossEntropyOp = defineOp<{ labels: Int32Array | DeviceTensor; labelSmoothing: number }>({
  name: 'crossEntropy',
  forward: (b, [logits], { labels, labelSmoothing }, record) => {
    const raw = b.labels(labels);
    const { loss, dlogits } = b.k.softmaxCrossEntropy(logits, raw, { labelSmoothing });
    if (raw !== labels && raw instanceof DeviceTensor) raw.dispose();
    if (!record) {
      b.release(dlogits);
      return { y: loss };
    }
    return { y: loss, saved: [dlogits] };
  },
  backward: (b, dy, { saved: [dlogits], dyIsOne }) => {
    if (dyIsOne) return [b.retain(dlogits)];
    return [andThen(b, b.view(dy, [1, 1]), (d) => b.k.mul(dlogits, d))];
  },
});

/** Options of crossEntropy. */
export interface CrossEntropyOptions {
  /** PyTorch's label_smoothing in [0, 1) (default 0). */
  labelSmoothing?: number;
  /** 'mean' (default; one fused kernel), 'sum' (the mean times N) or 'none' (one loss per row, [N]). */
  reduction?: Reduction;
}

/**
 * Softmax cross-entropy of logits [N, classes] against class labels [N]: the mean over the rows
 * (a one-element tensor [1]), their sum ([1]) or one loss per row ([N]) as `reduction` says.
 * Labels are an int32 tensor, an i32 device tensor or CPU values (an array, Int32Array or
 * Float32Array). CPU values are checked here: each must be an integer in [0, classes), else the
 * error names the label and its index. Labels on the GPU are not checked, since that would need
 * a readback every step: a label out of range there gives a NaN loss.
 */
export function crossEntropy(
  logits: Tensor,
  labels: Tensor | DeviceTensor | ArrayLike<number>,
  options: CrossEntropyOptions = {},
): Tensor {
  if (logits.ndim !== 2)
    throw new Error(`crossEntropy: logits must be [N, classes], got ${formatShape(logits.shape)}.`);
  const reduction = options.reduction ?? 'mean';
  checkReduction('crossEntropy', reduction);
  const C = logits.shape[1];
  const l = labels instanceof Tensor ? labelsOf(labels, logits) : labels;
  if (l instanceof DeviceTensor && l.dtype !== 'i32')
    throw new Error(`crossEntropy: device labels must be i32, got ${l.dtype}; upload class indices as an Int32Array.`);
  return crossEntropyOf(logits, l instanceof DeviceTensor ? l : classLabels('crossEntropy', l, C), reduction, options);
}

/** An int32 label tensor as the fused op takes it: its i32 device tensor on gpu, its values on cpu64. */
function labelsOf(labels: Tensor, logits: Tensor): DeviceTensor | ArrayLike<number> {
  if (labels.dtype !== 'int32')
    throw new Error(`crossEntropy: labels must be an int32 tensor, got ${labels.dtype} ${formatShape(labels.shape)}.`);
  if (labels.backend !== logits.backend)
    throw new Error(
      `crossEntropy: labels live on ${labels.backend} but logits on ${logits.backend}; move them to one.`,
    );
  const raw = labels.raw;
  return raw instanceof DeviceTensor ? raw : raw.data;
}

function crossEntropyOf(
  logits: Tensor,
  l: Int32Array | DeviceTensor,
  reduction: Reduction,
  options: CrossEntropyOptions,
): Tensor {
  const n = l instanceof DeviceTensor ? l.size : l.length;
  const N = logits.shape[0];
  if (n !== N) throw new Error(`crossEntropy: ${n} labels for logits ${formatShape(logits.shape)}; need one per row.`);
  const s = options.labelSmoothing ?? 0;
  if (reduction === 'mean') return apply(crossEntropyOp, [logits], { labels: l, labelSmoothing: s });
  if (reduction === 'sum') return tidy(() => mul(apply(crossEntropyOp, [logits], { labels: l, labelSmoothing: s }), N));
  // 'none': -log p[label] per row, smoothed toward the mean of -log p over the classes.
  return tidy(() => {
    const logp = logSoftmax(logits, -1);
    const nll = nllLoss(logp, l instanceof DeviceTensor ? fromLabels(l, logits) : l, { reduction: 'none' });
    if (s === 0) return nll;
    return add(mul(nll, 1 - s), mul(mean(neg(logp), 1), s));
  });
}

/** An i32 device tensor of labels as an int32 Tensor beside logits (gpu only). */
function fromLabels(l: DeviceTensor, logits: Tensor): Tensor {
  if (logits.backend !== 'gpu')
    throw new Error('crossEntropy: device-tensor labels need gpu logits; pass an Int32Array on cpu64.');
  return new Tensor(l.reshape(l.shape));
}

// ---- negative log-likelihood ----

interface NllAttrs {
  target: Raw;
  weight: Raw | null;
  ignoreIndex: number;
  reduction: Reduction;
}

const nllLossOp = defineOp<NllAttrs>({
  name: 'nllLoss',
  forward: (b, [logProbs], a, record) => {
    const r = b.k.nllLoss(logProbs, a.target, a.weight, a.ignoreIndex, a.reduction);
    const keepTotal = record && a.reduction === 'mean';
    if (r.totalWeight && !keepTotal) b.release(r.totalWeight);
    if (!record) return { y: r.loss };
    const saved = [b.retain(a.target)];
    if (a.weight) saved.push(b.retain(a.weight));
    if (keepTotal) saved.push(r.totalWeight!);
    return { y: r.loss, saved };
  },
  backward: (b, dy, { saved, attrs: a, shapes }) => {
    const [target, ...rest] = saved;
    const weight = a.weight ? rest.shift()! : null;
    const total = a.reduction === 'mean' ? rest.shift()! : null;
    return [b.k.nllLossBackward(dy, target, weight, total, shapes[0], a.ignoreIndex, a.reduction)];
  },
});

/** Options of nllLoss. */
export interface NllLossOptions {
  /** A weight per class ([C]); default 1. Not differentiated (as PyTorch). */
  weight?: Tensor | null;
  /** Targets equal to it contribute nothing, to the loss or to mean's divisor (default -100). */
  ignoreIndex?: number;
  /** 'mean' (default: divided by the summed weights of the targets not ignored), 'sum' or 'none'. */
  reduction?: Reduction;
}

/**
 * Negative log-likelihood (PyTorch's F.nll_loss) of log-probabilities [N, C] (or [N, C, d...])
 * at int32 class indices [N] (or [N, d...]): -weight[t] * logProbs[n, t], 0 where t is
 * ignoreIndex. 'mean' divides the sum by the summed weights of the targets not ignored (NaN
 * when all are ignored); 'mean' and 'sum' give one value (shape []), 'none' target's shape.
 * Targets are an int32 tensor, an Int32Array or a list (nested, or flat in row-major order); values
 * from the CPU must be class indices or ignoreIndex, else the error names the value and its
 * position. An int32 tensor on the GPU is not checked (a target out of range gives NaN).
 */
export function nllLoss(logProbs: Tensor, target: Tensor | IndexData, options: NllLossOptions = {}): Tensor {
  const reduction = options.reduction ?? 'mean';
  checkReduction('nllLoss', reduction);
  const ignoreIndex = options.ignoreIndex ?? -100;
  if (!Number.isInteger(ignoreIndex)) throw new Error(`nllLoss: ignoreIndex must be an integer, got ${ignoreIndex}.`);
  const s = logProbs.shape;
  if (s.length < 2)
    throw new Error(
      `nllLoss: input must be [N, C] or [N, C, d...] log-probabilities, got ${formatShape(s)}; ` +
        'add the batch dim with reshape([1, C]).',
    );
  const C = s[1];
  const want = [s[0], ...s.slice(2)];
  const size = want.reduce((a, d) => a * d, 1);
  const weight = options.weight ?? null;
  if (weight && (weight.ndim !== 1 || weight.shape[0] !== C))
    throw new Error(`nllLoss: weight ${formatShape(weight.shape)} must be [${C}] (one per class).`);
  if (weight && weight.backend !== logProbs.backend)
    throw new Error(`nllLoss: weight is on ${weight.backend} but input on ${logProbs.backend}; move them to one.`);
  const b = backendOf(logProbs.backend);
  const raw = indexRaw('nllLoss', 'target', b, target, (v) => classLabels('nllLoss', v, C, ignoreIndex));
  const given = b.shape(raw);
  // A flat list of N * d... values is read in row-major order; a tensor or nested list must have the shape.
  const flatList = !(target instanceof Tensor) && given.length === 1 && given[0] === size;
  if (!sameShape(given, want) && !flatList) {
    b.release(raw);
    throw new Error(
      `nllLoss: target ${formatShape(given)} does not fit input ${formatShape(s)}; ` +
        `need ${formatShape(want)} (one class index per row).`,
    );
  }
  return withIndices(
    b,
    andThen(b, raw, (r) => b.view(r, want)),
    (t) => apply(nllLossOp, [logProbs], { target: t, weight: weight?.raw ?? null, ignoreIndex, reduction }),
  );
}

// ---- mean squared error, binary cross-entropy with logits ----

/** Options of the losses that take only a reduction. */
export interface ReductionOptions {
  /** 'mean' (default), 'sum' or 'none'. */
  reduction?: Reduction;
}

const mseOp = defineOp<{ reduction: Reduction }>({
  name: 'mseLoss',
  forward: (b, [x, t], { reduction }, record) => {
    const l = b.k.squaredError(x, t);
    const axes = [...b.shape(x).keys()];
    const y =
      reduction === 'none'
        ? l
        : andThen(b, l, (r) => (reduction === 'sum' ? b.k.sum(r, axes, false) : b.k.mean(r, axes, false)));
    return { y, saved: record ? [b.retain(x), b.retain(t)] : [] };
  },
  backward: (b, dy, { saved: [x, t], attrs, needs }) => {
    const g = b.k.squaredErrorBackward(dy, x, t, attrs.reduction);
    return [needs[0] ? g.da : (b.release(g.da), null), needs[1] ? g.db : (b.release(g.db), null)];
  },
});

/**
 * Mean squared error (PyTorch's F.mse_loss): (input - target)^2, reduced as `reduction` says
 * ('mean' and 'sum' give shape []). One kernel forward (then the reduction) and one backward
 * for inputs of one shape; shapes that differ broadcast, composed from elementwise ops.
 */
export function mseLoss(input: Tensor, target: Tensor, options: ReductionOptions = {}): Tensor {
  const reduction = options.reduction ?? 'mean';
  checkReduction('mseLoss', reduction);
  if (sameShape(input.shape, target.shape)) return apply(mseOp, [input, target], { reduction });
  return tidy(() => {
    const d = sub(input, target);
    return reduce(mul(d, d), reduction);
  });
}

/** Options of binaryCrossEntropyWithLogits. */
export interface BceWithLogitsOptions extends ReductionOptions {
  /** Multiplies each element's loss (broadcast to the input's shape). Not differentiated (as PyTorch). */
  weight?: Tensor | null;
  /** Weight of the positive term, broadcast to the input's shape (usually one per class, [C]). */
  posWeight?: Tensor | null;
}

interface BceAttrs {
  weight: Raw | null;
  posWeight: Raw | null;
  reduction: Reduction;
}

const bceOp = defineOp<BceAttrs>({
  name: 'binaryCrossEntropyWithLogits',
  forward: (b, [x, t], a, record) => {
    const l = b.k.bceWithLogits(x, t, a.weight, a.posWeight);
    const axes = [...b.shape(x).keys()];
    const y =
      a.reduction === 'none'
        ? l
        : andThen(b, l, (r) => (a.reduction === 'sum' ? b.k.sum(r, axes, false) : b.k.mean(r, axes, false)));
    if (!record) return { y };
    const saved = [b.retain(x), b.retain(t)];
    if (a.weight) saved.push(b.retain(a.weight));
    if (a.posWeight) saved.push(b.retain(a.posWeight));
    return { y, saved };
  },
  backward: (b, dy, { saved, attrs: a, needs }) => {
    const [x, t, ...rest] = saved;
    const weight = a.weight ? rest.shift()! : null;
    const posWeight = a.posWeight ? rest.shift()! : null;
    const g = b.k.bceWithLogitsBackward(dy, x, t, weight, posWeight, a.reduction);
    return [needs[0] ? g.dx : (b.release(g.dx), null), needs[1] ? g.dt : (b.release(g.dt), null)];
  },
});

/**
 * A weight as the fused kernel reads it: its own storage when its shape (leading 1s dropped) is
 * the input's trailing dims, else expanded to the input's shape (a new tensor, in `made`).
 */
function trailingWeight(name: string, w: Tensor | null | undefined, input: Tensor, made: Tensor[]): Raw | null {
  if (!w) return null;
  if (w.backend !== input.backend)
    throw new Error(`binaryCrossEntropyWithLogits: ${name} is on ${w.backend} but input on ${input.backend}.`);
  const s = [...w.shape];
  while (s.length && s[0] === 1) s.shift();
  if (s.length <= input.ndim && sameShape(s, input.shape.slice(input.ndim - s.length))) return w.raw;
  if (broadcastShapes(w.shape, input.shape) === null || !sameShape(broadcastShapes(w.shape, input.shape)!, input.shape))
    throw new Error(
      `binaryCrossEntropyWithLogits: ${name} ${formatShape(w.shape)} does not broadcast to input ` +
        `${formatShape(input.shape)}.`,
    );
  const ones = full(input.shape, 1, { backend: input.backend });
  const e = noGrad(() => mul(ones, w));
  made.push(ones, e);
  return e.raw;
}

/** The broadcast of two shapes by PyTorch's rules, or null. */
function broadcastShapes(a: readonly number[], b: readonly number[]): number[] | null {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return null;
    out.push(x === 1 ? y : x);
  }
  return out;
}

/**
 * Binary cross-entropy of logits against targets in [0, 1] (PyTorch's
 * F.binary_cross_entropy_with_logits), in the stable form
 * (1 - t) * x + (1 + (posWeight - 1) * t) * log(1 + exp(-x)), times weight; one fused kernel
 * forward (then the reduction) and one backward, differentiable in input and target. input and
 * target have the same shape; weight and posWeight broadcast to it.
 */
export function binaryCrossEntropyWithLogits(
  input: Tensor,
  target: Tensor,
  options: BceWithLogitsOptions = {},
): Tensor {
  const reduction = options.reduction ?? 'mean';
  checkReduction('binaryCrossEntropyWithLogits', reduction);
  if (!sameShape(input.shape, target.shape))
    throw new Error(
      `binaryCrossEntropyWithLogits: target ${formatShape(target.shape)} must have the input's shape ` +
        `${formatShape(input.shape)}.`,
    );
  const made: Tensor[] = [];
  try {
    const weight = trailingWeight('weight', options.weight, input, made);
    const posWeight = trailingWeight('posWeight', options.posWeight, input, made);
    return apply(bceOp, [input, target], { weight, posWeight, reduction });
  } finally {
    for (const t of made) t.dispose();
  }
}
