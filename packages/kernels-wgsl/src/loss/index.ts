// Public API: softmax cross-entropy, (log-)softmax and backward, argmax, GPU-side accumulators.
import { releaseOnThrow } from '@wgtorch/tensor';
import * as launchers from './loss.js';

export type { CrossEntropyOptions, CrossEntropyResult } from './loss.js';
export { classLabels } from './labels.js';
// Launchers are wrapped so that one that throws releases the tensors it made (releaseOnThrow).
export const softmaxCrossEntropy = releaseOnThrow(launchers.softmaxCrossEntropy);
export const softmax = releaseOnThrow(launchers.softmax);
export const softmaxBackward = releaseOnThrow(launchers.softmaxBackward);
export const logSoftmax = releaseOnThrow(launchers.logSoftmax);
export const logSoftmaxBackward = releaseOnThrow(launchers.logSoftmaxBackward);
export const argmax = releaseOnThrow(launchers.argmax);
export const accuracyCount = releaseOnThrow(launchers.accuracyCount);
export const accumulate = releaseOnThrow(launchers.accumulate);
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
