// Training throughput measured by the same code in Node and in a page (no Node built-in):
// ResNet20 steps at the trainer's configuration (its optimizer, schedule, augmentation and step,
// from @wgtorch/resnet20/browser) on random images, paced as the trainer paces them.
// benchmarks/src/browser.ts runs it in both places on the same adapter.
import { SubmitPacer, Tensor, runtime } from '@wgtorch/tensor';
import {
  TrainLoader,
  makeOptimizer,
  makeSchedule,
  ResNet20,
  CapturedSteps,
  type TrainConfig,
} from '@wgtorch/resnet20/browser';
import { median, randomSplit } from './random-split.js';

export interface StepTiming {
  batch: number;
  steps: number;
  imgPerSec: number;
  msPerStep: number;
  /** Median milliseconds the JavaScript thread spent recording and submitting a step. */
  hostMs: number;
  /** Median dispatches of a step. */
  dispatches: number;
  /** GPU buffers the pool created and pipelines compiled during the timed steps (0 once warm). */
  buffersCreated: number;
  pipelinesCompiled: number;
}

/**
 * `steps` training steps at `batch` as the trainer records them (a captured step replayed), after
 * `warmup` ones (which compile every kernel) and those until the step replays, timed.
 */
export async function timeTraining(cfg: TrainConfig, batch: number, steps: number, warmup = 2): Promise<StepTiming> {
  const rt = runtime();
  const model = new ResNet20({ shortcut: cfg.shortcut, seed: 0 });
  const opt = makeOptimizer(model, cfg);
  const sched = makeSchedule(cfg, opt, 100000);
  const loader = new TrainLoader(randomSplit(Math.max(batch * 4, 512), 1), { batchSize: batch, seed: 0 });
  const pacer = new SubmitPacer(rt);
  const lossSum = Tensor.zeros([1]);
  const correct = Tensor.zeros([1]);
  const counters = rt.dispatcher.counters;
  const stepper = new CapturedSteps({
    model,
    opt,
    sched,
    acc: { lossSum, correct },
    labelSmoothing: cfg.labelSmoothing,
  });
  const hostMs: number[] = [];
  const dispatches: number[] = [];
  let step = 0;
  const one = async () => {
    const d0 = counters.dispatches;
    const t0 = performance.now();
    stepper.step(loader.batch(0, step++ % loader.steps));
    const recordMs = performance.now() - t0;
    await pacer.throttle();
    const t1 = performance.now();
    pacer.submit();
    hostMs.push(recordMs + performance.now() - t1);
    dispatches.push(counters.dispatches - d0);
  };
  try {
    // The trainer's captured step settles over its first steps (then it replays).
    for (let i = 0; i < warmup || (!stepper.replayed && i < warmup + 8); i++) await one();
    await pacer.wait();
    await rt.sync();
    hostMs.length = dispatches.length = 0;
    const [created0, compiled0] = [rt.pool.getStats().created, counters.pipelinesCompiled];
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) await one();
    await pacer.wait();
    await rt.sync();
    const msPerStep = (performance.now() - t0) / steps;
    rt.checkErrors();
    return {
      batch,
      steps,
      imgPerSec: (1000 * batch) / msPerStep,
      msPerStep,
      hostMs: median(hostMs),
      dispatches: median(dispatches),
      buffersCreated: rt.pool.getStats().created - created0,
      pipelinesCompiled: counters.pipelinesCompiled - compiled0,
    };
  } finally {
    stepper.dispose();
    lossSum.dispose();
    correct.dispose();
    opt.dispose();
    model.dispose();
  }
}
