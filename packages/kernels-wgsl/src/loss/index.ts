// Public API: softmax cross-entropy, (log-)softmax and backward, argmax, GPU-side accumulators.
import './bench.js';

export {
  softmaxCrossEntropy,
  softmax,
  softmaxBackward,
  logSoftmax,
  logSoftmaxBackward,
  argmax,
  accuracyCount,
  accumulate,
  type CrossEntropyOptions,
  type CrossEntropyResult,
} from './loss.js';
export {
  softmaxCrossEntropyRef,
  softmaxRef,
  softmaxBackwardRef,
  logSoftmaxRef,
  logSoftmaxBackwardRef,
  argmaxRef,
  accuracyCountRef,
  accumulateRef,
} from './reference.js';
