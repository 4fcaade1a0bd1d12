// One training step, shared by the trainer, the benchmark and the browser demo: forward, loss,
// backward, optimizer update and schedule step, all recorded on the GPU with no readback. Loss and
// accuracy are added to GPU accumulators (read once per logging interval). Also the test-set
// evaluation. No Node built-ins.

import { Tensor as DeviceTensor } from '@wgtorch/tensor';
import { accumulate, accuracyCount } from '@wgtorch/kernels-wgsl';
import {
  crossEntropy,
  fromDevice,
  noGrad,
  tidy,
  type LRScheduler,
  type Module,
  type Optimizer,
} from '@wgtorch/autograd';
import { testBatches } from '../data/loader.js';
import { uploadBatch } from '../data/gpu.js';
import type { CifarSplit } from '../data/format.js';

export interface StepAccumulators {
  /** Sum of per-image losses, [1]. */
  lossSum: DeviceTensor;
  /** Number of correct predictions, [1]. */
  correct: DeviceTensor;
}

export function trainStep(
  model: Module,
  opt: Optimizer,
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

/** Test loss and accuracy of a CIFAR-10 classifier (eval mode, no grad), one readback at the end. */
export async function evaluate(
  model: Module,
  split: CifarSplit,
  batchSize = 256,
): Promise<{ loss: number; acc: number }> {
  model.eval();
  const lossSum = DeviceTensor.zeros([1]);
  const correct = DeviceTensor.zeros([1]);
  for (const b of testBatches(split, batchSize)) {
    const g = uploadBatch(b);
    noGrad(() =>
      tidy(() => {
        const logits = model.forward(fromDevice(g.x.reshape(g.x.shape)));
        const loss = crossEntropy(logits, g.labels);
        accumulate(lossSum, loss.data, b.size);
        accuracyCount(logits.data, g.labels, correct);
      }),
    );
    g.dispose();
  }
  const [l, c] = [await lossSum.item(), await correct.item()];
  lossSum.dispose();
  correct.dispose();
  model.train();
  return { loss: l / split.n, acc: c / split.n };
}
