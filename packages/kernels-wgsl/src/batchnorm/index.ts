// Public API: BatchNorm2d (NCHW) training / eval forward, backward, and the fused ReLU variants.
import { releaseOnThrow } from '@wgtorch/tensor';
import * as launchers from './batchnorm.js';

export type { BatchNormOptions, BatchNormTrainResult, BatchNormGrads } from './batchnorm.js';
// Launchers are wrapped so that one that throws releases the tensors it made (releaseOnThrow).
export const batchNormTrain = releaseOnThrow(launchers.batchNormTrain);
export const batchNormTrainRelu = releaseOnThrow(launchers.batchNormTrainRelu);
export const batchNormEval = releaseOnThrow(launchers.batchNormEval);
export const batchNormEvalRelu = releaseOnThrow(launchers.batchNormEvalRelu);
export const batchNormBackward = releaseOnThrow(launchers.batchNormBackward);
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
