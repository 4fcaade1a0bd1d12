// Public API: BatchNorm2d (NCHW) training / eval forward, backward, and the fused ReLU and add+ReLU variants.
import { releaseOnThrow } from '@wgtorch/tensor';
import * as launchers from './batchnorm.js';

export type { BatchNormOptions, BatchNormTrainResult, BatchNormGrads, BatchNormAddReluGrads } from './batchnorm.js';
// Launchers are wrapped so that one that throws releases the tensors it made (releaseOnThrow).
/**
 * Training-mode BatchNorm2d: normalizes with the batch mean and biased variance and updates
 * runningMean / runningVar in place (momentum; the running variance takes the unbiased one).
 */
export const batchNormTrain = releaseOnThrow(launchers.batchNormTrain);
/** relu(batchNormTrain(...).y) in one pass; saveMean / saveInvStd as batchNormTrain. */
export const batchNormTrainRelu = releaseOnThrow(launchers.batchNormTrainRelu);
/**
 * relu(batchNormTrain(x).y + residual) in one pass (ResNet's block end); residual has the shape
 * of x. saveMean / saveInvStd as batchNormTrain.
 */
export const batchNormTrainAddRelu = releaseOnThrow(launchers.batchNormTrainAddRelu);
/** Eval-mode BatchNorm2d with the running statistics. */
export const batchNormEval = releaseOnThrow(launchers.batchNormEval);
/** relu(batchNormEval(...)) in one pass. */
export const batchNormEvalRelu = releaseOnThrow(launchers.batchNormEvalRelu);
/** relu(batchNormEval(x) + residual) in one pass; residual has the shape of x. */
export const batchNormEvalAddRelu = releaseOnThrow(launchers.batchNormEvalAddRelu);
/** Gradients of training-mode BatchNorm2d for the upstream gradient dy. */
export const batchNormBackward = releaseOnThrow(launchers.batchNormBackward);
/**
 * Gradients of relu(batchNormTrain(x)) given dy for its output and y, that relu output.
 * `beta` is accepted for symmetry with the forward; the gradient does not need it. With dy2 (the
 * shape of dy) the upstream gradient is dy + dy2, summed as the kernel reads it.
 */
export const batchNormReluBackward = releaseOnThrow(launchers.batchNormReluBackward);
/**
 * Gradients of out = relu(batchNormTrain(x).y + residual) given dy for out and out itself, in
 * one pass: dy masked by out > 0 is dresidual, and batch norm's upstream gradient. With dy2 (the
 * shape of dy) the upstream gradient is dy + dy2, summed as the kernel reads it.
 */
export const batchNormAddReluBackward = releaseOnThrow(launchers.batchNormAddReluBackward);
export {
  batchNormTrainRef,
  batchNormTrainReluRef,
  batchNormTrainAddReluRef,
  batchNormEvalRef,
  batchNormEvalReluRef,
  batchNormEvalAddReluRef,
  batchNormBackwardRef,
  batchNormReluBackwardRef,
  batchNormAddReluBackwardRef,
  type BatchNormTrainRefResult,
} from './reference.js';
