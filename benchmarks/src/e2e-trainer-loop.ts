// The e2e trainer-loop row of `pnpm bench`: `pnpm train`'s own step loop (trainSegment, imported
// from the trainer, not copied) with its defaults: batch size, optimizer and one-cycle schedule,
// a readback of the loss and accuracy every --log-every steps and a progress bar drawn from them
// (to a stream that discards it). Beside the step row, it shows what the trainer loses to its
// loop: the two figures should be within 10% of each other.

import { Writable } from 'node:stream';
import { runtime, SubmitPacer, Tensor } from '@wgtorch/tensor';
import {
  ProgressBar,
  ResNet20,
  TRAIN_DEFAULTS,
  TrainLoader,
  makeOptimizer,
  makeSchedule,
  progressLogger,
  trainSegment,
} from '@wgtorch/resnet20';
import { randomSplit } from './random-split.js';

export interface TrainerLoopResult {
  steps: number;
  batchSize: number;
  logEvery: number;
  imagesPerSec: number;
  msPerStep: number;
  /** Readbacks the loop made (the loss and accuracy sums, every logEvery steps and at the end). */
  readbacks: number;
  /** Waits where the pacer woke after the GPU had finished (it may have idled), of `retired`. */
  lateWakes: number;
  retired: number;
}

/**
 * Runs the trainer's loop for `steps` steps of one epoch, on a fresh model (the kernels are
 * compiled by the step rows before it), and times it from the first step's recording to the
 * last one's end, as the trainer times an epoch.
 */
export async function runTrainerLoop(steps: number): Promise<TrainerLoopResult> {
  const cfg = TRAIN_DEFAULTS;
  const split = randomSplit(steps * cfg.batchSize, 2);
  const model = new ResNet20({ shortcut: cfg.shortcut, seed: cfg.seed });
  const opt = makeOptimizer(model, cfg);
  const loader = new TrainLoader(split, { batchSize: cfg.batchSize, seed: cfg.seed });
  const sched = makeSchedule(cfg, opt, cfg.scheduleEpochs * loader.steps);
  const pacer = new SubmitPacer(runtime());
  const sink = new Writable({ write: (_chunk, _enc, done) => done() });
  const bar = new ProgressBar({ total: steps * cfg.batchSize, label: 'epoch 1/1', stream: sink, tty: true });
  const lossSum = Tensor.zeros([1]);
  const correct = Tensor.zeros([1]);
  const counters = runtime().dispatcher.counters;
  try {
    await runtime().sync();
    const readbacks = counters.readbacks;
    const seg = await trainSegment(
      { model, opt, sched, loader, pacer, labelSmoothing: cfg.labelSmoothing, logEvery: cfg.logEvery },
      { epoch: 0, from: 0, to: steps, images: 0, acc: { lossSum, correct }, onLog: progressLogger(bar) },
    );
    bar.finish();
    const { retired, late } = pacer.stats;
    return {
      steps,
      batchSize: cfg.batchSize,
      logEvery: cfg.logEvery,
      imagesPerSec: seg.images / seg.sec,
      msPerStep: (1000 * seg.sec) / steps,
      readbacks: counters.readbacks - readbacks,
      lateWakes: late,
      retired,
    };
  } finally {
    lossSum.dispose();
    correct.dispose();
    opt.dispose();
    model.dispose();
  }
}
