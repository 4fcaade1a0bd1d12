// Public API: BatchNorm2d (NCHW) training / eval forward, backward, and the fused ReLU variants.
import './bench.js';

export {
  batchNormTrain,
  batchNormTrainRelu,
  batchNormEval,
  batchNormEvalRelu,
  batchNormBackward,
  batchNormReluBackward,
  type BatchNormOptions,
  type BatchNormTrainResult,
  type BatchNormGrads,
} from './batchnorm.js';
export {
  batchNormTrainRef,
  batchNormTrainReluRef,
  batchNormEvalRef,
  batchNormEvalReluRef,
  batchNormBackwardRef,
  batchNormReluBackwardRef,
  type BatchNormTrainRefResult,
} from './reference.js';
