// Public API: BatchNorm2d (NCHW) training / eval forward, backward, and the fused ReLU variants.
import { releaseOnThrow } from '@wgtorch/tensor';
import * as launchers from './batchnorm.js';

export type { BatchNormOptions, BatchNormTrainResult, BatchNormGrads } from './batchnorm.js';
// Launchers are wrapped so that one that throws releases the tensors it made (releaseOnThrow).
/**
 * Training-mode BatchNorm2d: normalizes with the batch mean and biased variance and updates
 * runningMean / runningVar in place (momentum; the running variance takes the unbiased one).
 */
export const batchNormTrain = releaseOnThrow(launchers.batchNormTrain);
/** relu(batchNormTrain(...).y) in one pass; saveMean / saveInvStd as batchNormTrain. */
export const batchNormTrainRelu = releaseOnThrow(launchers.batchNormTrainRelu);
/** Eval-mode BatchNorm2d with the running statistics. */
export const batchNormEval = releaseOnThrow(launchers.batchNormEval);
/** relu(batchNormEval(...)) in one pass. */
export const batchNormEvalRelu = releaseOnThrow(launchers.batchNormEvalRelu);
/** Gradients of training-mode BatchNorm2d for the upstream gradient dy. */
export const batchNormBackward = releaseOnThrow(launchers.batchNormBackward);
/**
 * Gradients of relu(batchNormTrain(x)) given dy for its output and y, that relu output.
 * `beta` is accepted for symmetry with the forward; the gradient does not need it.
 */
export const batchNormReluBackward = releaseOnThrow(launchers.batchNormReluBackward);
export {
  batchNormTrainRef,
  batchNormTrainReluRef,
  batchNormEvalRef,
  batchNormEvalReluRef,
  batchNormBackwardRef,
  batchNormReluBackwardRef,
  type BatchNormTrainRefResult,
} from './reference.js';
