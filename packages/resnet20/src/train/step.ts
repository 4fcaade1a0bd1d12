// One training step, shared by the trainer and the benchmark: forward, loss, backward, SGD
// update and schedule step, all recorded on the GPU with no readback. Loss and accuracy are
// added to GPU accumulators (read once per logging interval).

import { Tensor as DeviceTensor } from '@wgtorch/tensor';
import { accumulate, accuracyCount } from '@wgtorch/kernels-wgsl';
import { crossEntropy, fromDevice, tidy, type LRScheduler, type Module, type SGD } from '@wgtorch/autograd';

export interface StepAccumulators {
  /** Sum of per-image losses, [1]. */
  lossSum: DeviceTensor;
  /** Number of correct predictions, [1]. */
  correct: DeviceTensor;
}

export function trainStep(
  model: Module,
  opt: SGD,
  sched: LRScheduler | undefined,
  x: DeviceTensor,
  labels: DeviceTensor,
  acc: StepAccumulators | undefined,
  labelSmoothing = 0,
): void {
  tidy(() => {
    // fromDevice takes ownership of what it wraps: give it a view, so `x` stays the caller's.
    const logits = model.forward(fromDevice(x.reshape(x.shape)));
    const loss = crossEntropy(logits, labels, { labelSmoothing });
    if (acc) {
      accumulate(acc.lossSum, loss.data, x.shape[0]);
      accuracyCount(logits.data, labels, acc.correct);
    }
    loss.backward();
  });
  opt.step();
  opt.zeroGrad();
  sched?.step();
}
