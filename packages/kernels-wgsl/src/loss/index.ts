// Public API: softmax cross-entropy, (log-)softmax and backward, argmax, GPU-side accumulators.
import { releaseOnThrow } from '@wgtorch/tensor';
import * as launchers from './loss.js';
import * as nll from './nll.js';
import * as bce from './bce.js';
import * as mse from './mse.js';

export type { CrossEntropyOptions, CrossEntropyResult } from './loss.js';
export type { NllLossResult, Reduction } from './nll.js';
export { classLabels } from './labels.js';
// Launchers are wrapped so that one that throws releases the tensors it made (releaseOnThrow).
/**
 * Mean softmax cross-entropy of logits [N, C] against i32 labels [N] and its gradient. The
 * labels are on the GPU and not checked: one outside [0, C) gives a NaN loss. Upload labels
 * with Tensor.fromArray(classLabels(...), [N], 'i32') to check them first.
 */
export const softmaxCrossEntropy = releaseOnThrow(launchers.softmaxCrossEntropy);
/** Softmax over the last dimension of 2-D logits [N, C]. */
export const softmax = releaseOnThrow(launchers.softmax);
/** dx for dy at the output y = softmax(x). */
export const softmaxBackward = releaseOnThrow(launchers.softmaxBackward);
/** Log-softmax over the last dimension of 2-D logits [N, C]. */
export const logSoftmax = releaseOnThrow(launchers.logSoftmax);
/** dx for dy at the output y = logSoftmax(x). */
export const logSoftmaxBackward = releaseOnThrow(launchers.logSoftmaxBackward);
/** Index of the largest value over the last dimension (the first one on ties), i32 [...x.shape[:-1]]. */
export const argmax = releaseOnThrow(launchers.argmax);
/**
 * Adds the number of rows whose argmax equals the label to `into` ([1] f32, created as zeros if absent);
 * returns it.
 */
export const accuracyCount = releaseOnThrow(launchers.accuracyCount);
/** into[0] += scale * value[0], in place on the GPU (both [1] f32). */
export const accumulate = releaseOnThrow(launchers.accumulate);
/**
 * Negative log-likelihood of logProbs [N, C, d...] at i32 target [N, d...], class weights
 * optional, ignoreIndex skipped, reduced 'none' | 'mean' | 'sum': { loss, totalWeight }.
 */
export const nllLoss = releaseOnThrow(nll.nllLoss);
/** The gradient of nllLoss for logProbs (of the given shape) from dy. */
export const nllLossBackward = releaseOnThrow(nll.nllLossBackward);
/**
 * Per-element binary cross-entropy of logits against targets (same shape), weight and posWeight
 * optional (broadcast as trailing dims of the input), in PyTorch's stable form.
 */
export const bceWithLogits = releaseOnThrow(bce.bceWithLogits);
/** Gradients { dx, dt } of bceWithLogits, dy per element ('none') or one value ('mean', 'sum'). */
export const bceWithLogitsBackward = releaseOnThrow(bce.bceWithLogitsBackward);
/** (a - b)^2 elementwise (a and b of one shape): mseLoss's per-element values. */
export const squaredError = releaseOnThrow(mse.squaredError);
/** Gradients { da, db } of squaredError, dy per element ('none') or one value ('mean', 'sum'). */
export const squaredErrorBackward = releaseOnThrow(mse.squaredErrorBackward);
export {
  squaredErrorRef,
  squaredErrorBackwardRef,
  bceWithLogitsRef,
  bceWithLogitsBackwardRef,
  nllLossRef,
  nllLossBackwardRef,
  softmaxCrossEntropyRef,
  softmaxRef,
  softmaxBackwardRef,
  logSoftmaxRef,
  logSoftmaxBackwardRef,
  argmaxRef,
  accuracyCountRef,
  accumulateRef,
} from './reference.js';
