// One training step, shared by the trainer, the benchmark and the browser demo: forward, loss,
// backward, optimizer update and schedule step, all recorded on the GPU with no readback. Loss and
// accuracy are added to GPU accumulators (read once per logging interval). Also the test-set
// evaluation. No Node built-ins.

import { capture, Tensor as DeviceTensor, type CapturedGraph } from '@wgtorch/tensor';
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
import { testBatches, type Batch } from '../data/loader.js';
import { batchInput, uploadBatch } from '../data/gpu.js';
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

const MAX_CAPTURES = 6;

/**
 * trainStep for one batch after another, with the step's GPU work captured (capture of @wgtorch/tensor)
 * and replayed: the autograd and the kernels' launchers run only when a graph is captured (the
 * first steps, and again after a batch of another size or when a tensor the graph binds was
 * replaced, e.g. new accumulators). The updates are trainStep's, bit for bit. The batch goes up
 * into the same input buffers each step; the schedule steps in JavaScript.
 */
export class CapturedSteps {
  private inputs: { images: DeviceTensor<'u32'>; crops: DeviceTensor<'i32'>; labels: DeviceTensor<'i32'> } | undefined;
  private graph: CapturedGraph | undefined;
  /** Captures since the inputs' size changed or a graph went stale. */
  private captures = 0;
  /** Captures made so far. */
  totalCaptures = 0;
  /** True when the last step replayed a graph (false while steps are captured). */
  replayed = false;

  constructor(
    private readonly s: {
      model: Module;
      opt: Optimizer;
      sched: LRScheduler | undefined;
      acc: StepAccumulators | undefined;
      labelSmoothing?: number;
    },
  ) {}

  /** Uploads `batch` (a training batch, with crops) and records one training step. */
  step(batch: Batch): void {
    if (!batch.crops)
      throw new Error(`CapturedSteps.step: batch ${batch.step} has no crop parameters (a test batch?).`);
    const n = batch.size;
    if (this.inputs && this.inputs.labels.size === n) {
      this.inputs.images.write(batch.packed);
      this.inputs.crops.write(batch.crops);
      this.inputs.labels.write(batch.labels);
    } else {
      this.dispose();
      this.inputs = {
        images: DeviceTensor.fromArray(batch.packed, [batch.packed.length], 'u32'),
        crops: DeviceTensor.fromArray(batch.crops, [n, 3], 'i32'),
        labels: DeviceTensor.fromArray(batch.labels, [n], 'i32'),
      };
    }
    // A graph that uploads (tables first made while it was captured) is captured again, a few
    // times at most: caches settle over the first steps (the split weight-gradient buffers size
    // themselves), and then a graph holds no uploads, which would cost a submit each.
    const recapture = this.graph?.hasUploads && this.captures < MAX_CAPTURES;
    if (this.graph && (!this.graph.valid || recapture)) {
      if (!this.graph.valid) this.captures = 0;
      this.graph.dispose();
      this.graph = undefined;
    }
    this.replayed = this.graph !== undefined;
    if (this.graph) this.graph.replay();
    else {
      const { images, crops, labels } = this.inputs;
      const { model, opt, acc, labelSmoothing } = this.s;
      this.graph = capture(() => {
        const x = batchInput(images, crops, n);
        trainStep(model, opt, undefined, x, labels, acc, labelSmoothing);
        x.dispose();
      });
      this.captures++;
      this.totalCaptures++;
    }
    this.s.sched?.step();
  }

  /** Frees the graph and the input buffers. */
  dispose(): void {
    this.graph?.dispose();
    this.graph = undefined;
    this.captures = 0;
    if (this.inputs) for (const t of Object.values(this.inputs)) t.dispose();
    this.inputs = undefined;
  }
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
