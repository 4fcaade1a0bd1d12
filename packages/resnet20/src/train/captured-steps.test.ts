// CapturedSteps (the trainer's default) against trainStep: the same ResNet20 updates bit for bit
// over steps with a changing learning rate, a graph without uploads once caches settle, and a
// new capture when the batch size changes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, runtime, Tensor } from '@wgtorch/tensor';
import { ResNet20 } from '../model.js';
import { randomSplit } from './testing.js';
import { TrainLoader, type Batch } from '../data/loader.js';
import { uploadBatch } from '../data/gpu.js';
import { DEFAULTS } from './config.js';
import { makeOptimizer, makeSchedule } from './optim.js';
import { CapturedSteps, trainStep } from './step.js';

beforeAll(async () => {
  await getRuntime();
});
afterAll(() => runtime().destroy());

/** Trains on `batches` from a fresh model; returns the parameters, the loss sum and the steps helper. */
async function train(batches: Batch[], captured: boolean) {
  const cfg = { ...DEFAULTS, batchSize: 4, shortcut: 'A' as const };
  const model = new ResNet20({ shortcut: cfg.shortcut, seed: 0 });
  const opt = makeOptimizer(model, cfg);
  const sched = makeSchedule(cfg, opt, 20);
  const acc = { lossSum: Tensor.zeros([1]), correct: Tensor.zeros([1]) };
  const steps = new CapturedSteps({ model, opt, sched, acc });
  const uploads: boolean[] = [];
  for (const b of batches) {
    if (captured) {
      steps.step(b);
      uploads.push((steps as unknown as { graph?: { hasUploads: boolean } }).graph?.hasUploads ?? true);
    } else {
      const g = uploadBatch(b);
      trainStep(model, opt, sched, g.x, g.labels, acc);
      g.dispose();
    }
    runtime().flush();
  }
  const params = await Promise.all(model.parameters().map(async (p) => [...(await p.toArray())]));
  const lossSum = await acc.lossSum.item();
  const captures = steps.totalCaptures;
  steps.dispose();
  opt.dispose();
  acc.lossSum.dispose();
  acc.correct.dispose();
  return { params, lossSum, captures, uploads };
}

describe('CapturedSteps', () => {
  const loader = new TrainLoader(randomSplit(40, 5), { batchSize: 4, seed: 0 });
  const small = new TrainLoader(randomSplit(40, 5), { batchSize: 2, seed: 1 });

  it('trains ResNet20 as trainStep does, bit for bit, replaying one graph once caches settle', async () => {
    const batches = Array.from({ length: 8 }, (_, i) => loader.batch(0, i));
    const eager = await train(batches, false);
    const captured = await train(batches, true);
    expect(captured.lossSum).toBe(eager.lossSum);
    expect(captured.params).toEqual(eager.params);
    // A few captures while the caches settle, then replays of a graph that uploads nothing.
    expect(captured.captures).toBeLessThanOrEqual(6);
    expect(captured.uploads.at(-1)).toBe(false);
    expect(captured.captures).toBeLessThan(batches.length);
  });

  it('captures again when the batch size changes', async () => {
    const batches = [0, 1, 2, 3, 4, 5].map((i) => loader.batch(0, i));
    batches.push(small.batch(0, 0), small.batch(0, 1));
    const eager = await train(batches, false);
    const captured = await train(batches, true);
    expect(captured.params).toEqual(eager.params);
    expect(captured.lossSum).toBe(eager.lossSum);
  });
});
