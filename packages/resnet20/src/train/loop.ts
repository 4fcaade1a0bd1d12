// The trainer's step loop: `pnpm train` runs it for every epoch, and `pnpm bench` times it (the
// e2e trainer-loop row), so the figure the bench reports is the loop a user runs.
//
// The GPU queue is never drained inside the loop. A step is recorded (while the GPU runs the
// previous one), the pacer waits for that previous step (sleeping), then this one is submitted.
// Every `logEvery` steps the loss and accuracy sums are copied back right behind the step just
// submitted, and the copy is awaited as many submits later as the pacer keeps in flight (one on
// CPU adapters), once the GPU runs the steps after it: the progress bar and the NaN check cost no
// idle GPU time. The segment ends with one drain and a final readback. No Node built-ins (the
// browser demo may use it too).

import type { SubmitPacer } from '@wgtorch/tensor';
import type { LRScheduler, Module, Optimizer } from '@wgtorch/autograd';
import type { TrainLoader } from '../data/loader.js';
import { uploadBatch } from '../data/gpu.js';
import { CapturedSteps, trainStep, type StepAccumulators } from './step.js';

/** What the loop trains with; the same for every segment of a run. */
export interface LoopRun {
  model: Module;
  opt: Optimizer;
  sched: LRScheduler;
  loader: TrainLoader;
  pacer: SubmitPacer;
  labelSmoothing: number;
  /** Steps between readbacks of the loss and accuracy sums (the trainer's --log-every). */
  logEvery: number;
  /** Replay a captured step (CapturedSteps; default true) rather than record each step anew. */
  capture?: boolean;
}

/** The running sums of an epoch as read back after `step` steps of it. */
export interface Readout {
  step: number;
  images: number;
  lossSum: number;
  correct: number;
  /** The learning rate of the schedule at that step. */
  lr: number;
}

export interface SegmentOptions {
  epoch: number;
  /** First step to run (0-based, within the epoch). */
  from: number;
  /** Step to stop before (at most the loader's steps per epoch). */
  to: number;
  /** Images the accumulators already hold for this epoch (a resumed partial epoch). */
  images: number;
  /** Loss and accuracy sums of the epoch, on the GPU. */
  acc: StepAccumulators;
  /** Called with each finite readback: every `logEvery` steps (a step or two after it was taken) and at the end. */
  onLog?: (r: Readout) => void;
  /** Asked after every step: a reason to stop after it (a signal, a step limit, a time budget). */
  stop?: () => string | undefined;
}

export interface SegmentResult extends Readout {
  /** Why the segment ended before `to`, from `stop`. */
  stopped?: string;
  /** The first non-finite loss read back, after `step` steps; `unread` steps before it were not checked. */
  nonFinite?: { loss: number; step: number; unread: number };
  /** Wall seconds from the first step's recording until the GPU finished the last step. */
  sec: number;
}

/** Reads the loss and accuracy sums back (two small copies submitted now; no drain). */
function readSums(acc: StepAccumulators): Promise<[number, number]> {
  return Promise.all([acc.lossSum.item(), acc.correct.item()]);
}

/**
 * Trains steps [from, to) of one epoch. Returns after the GPU has finished them, with the sums
 * read back; stops early after a step when `stop` gives a reason or when a readback finds a
 * non-finite loss (the run is then a step or two further than the readback that found it).
 */
export async function trainSegment(run: LoopRun, o: SegmentOptions): Promise<SegmentResult> {
  const { model, opt, sched, loader, pacer, logEvery, labelSmoothing } = run;
  const t0 = performance.now();
  let images = o.images;
  /** The step after which the loss was last read back finite. */
  let checked = o.from;
  let nonFinite: SegmentResult['nonFinite'];
  let stopped: string | undefined;
  /** Readbacks in flight, oldest first, with the submits made since each was queued. */
  const reads: { done: Promise<void>; age: number }[] = [];
  /** True when the loss read back after `step` steps is finite (and nothing before it was not). */
  const check = (step: number, loss: number): boolean => {
    if (nonFinite) return false;
    if (Number.isFinite(loss)) {
      checked = step;
      return true;
    }
    nonFinite = { loss, step, unread: step - 1 - checked };
    return false;
  };
  const captured =
    run.capture === false ? undefined : new CapturedSteps({ model, opt, sched, acc: o.acc, labelSmoothing });
  let step = o.from;
  try {
    while (step < o.to && !nonFinite && !stopped) {
      const batch = loader.batch(o.epoch, step);
      if (captured) captured.step(batch);
      else {
        const g = uploadBatch(batch);
        trainStep(model, opt, sched, g.x, g.labels, o.acc, labelSmoothing);
        g.dispose();
      }
      await pacer.throttle();
      pacer.submit();
      step++;
      images += batch.size;
      // A readback queued `depth` submits ago sits right behind a step the pacer has waited for:
      // settled, or nearly, and awaiting it leaves as many steps queued as the pacer allows.
      for (const r of reads) r.age++;
      while (reads.length && reads[0].age >= pacer.depth) await reads.shift()!.done;
      if (step % logEvery === 0 && step < o.to) {
        const at = { step, images, lr: sched.getLastLr()[0] };
        const done = readSums(o.acc).then(([lossSum, correct]) => {
          if (check(at.step, lossSum)) o.onLog?.({ ...at, lossSum, correct });
        });
        reads.push({ done, age: 0 });
      }
      stopped = o.stop?.();
    }
    await pacer.wait();
  } finally {
    captured?.dispose();
  }
  for (const r of reads) await r.done;
  const sec = (performance.now() - t0) / 1000;
  const [lossSum, correct] = await readSums(o.acc);
  const end = { step, images, lossSum, correct, lr: sched.getLastLr()[0] };
  if (check(step, lossSum)) o.onLog?.(end);
  return { ...end, stopped, nonFinite, sec };
}

/** What a progress bar needs of the loop's readouts. */
export interface ProgressSink {
  update(done: number, metrics: Record<string, string>): void;
}

/** The trainer's progress-bar update for a readout: images done, mean loss, accuracy and lr so far. */
export function progressLogger(bar: ProgressSink): (r: Readout) => void {
  return (r) =>
    bar.update(r.images, {
      loss: (r.lossSum / r.images).toFixed(3),
      acc: `${((100 * r.correct) / r.images).toFixed(1)}%`,
      lr: r.lr.toExponential(2),
    });
}
