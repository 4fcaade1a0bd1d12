// The trainer's step loop: readbacks every logEvery steps without draining the queue, and the
// readouts they give.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, runtime, SubmitPacer, Tensor } from '@wgtorch/tensor';
import { ResNet20 } from '../model.js';
import { randomSplit } from './testing.js';
import { TrainLoader } from '../data/loader.js';
import { DEFAULTS } from './config.js';
import { makeOptimizer, makeSchedule } from './optim.js';
import { trainSegment, type Readout } from './loop.js';

beforeAll(async () => {
  await getRuntime();
});
afterAll(() => runtime().destroy());

describe('trainSegment', () => {
  it('reads the sums back every logEvery steps without waiting for the queue to empty', async () => {
    const cfg = { ...DEFAULTS, batchSize: 8, shortcut: 'A' as const };
    const model = new ResNet20({ shortcut: cfg.shortcut, seed: 0 });
    const opt = makeOptimizer(model, cfg);
    const loader = new TrainLoader(randomSplit(12 * 8, 3), { batchSize: 8, seed: 0 });
    const sched = makeSchedule(cfg, opt, 100);
    const pacer = new SubmitPacer(runtime());
    let drains = 0;
    const wait = pacer.wait.bind(pacer);
    pacer.wait = () => (drains++, wait());
    const lossSum = Tensor.zeros([1]);
    const correct = Tensor.zeros([1]);
    const logs: Readout[] = [];
    const readbacks = runtime().dispatcher.counters.readbacks;
    try {
      const seg = await trainSegment(
        { model, opt, sched, loader, pacer, labelSmoothing: 0, logEvery: 5 },
        { epoch: 0, from: 0, to: 12, images: 0, acc: { lossSum, correct }, onLog: (r) => logs.push(r) },
      );
      expect(seg.step).toBe(12);
      expect(seg.images).toBe(96);
      expect(seg.nonFinite).toBeUndefined();
      // After steps 5 and 10, and at the end: two values each, and one drain, at the end.
      expect(logs.map((r) => [r.step, r.images])).toEqual([
        [5, 40],
        [10, 80],
        [12, 96],
      ]);
      expect(runtime().dispatcher.counters.readbacks - readbacks).toBe(6);
      expect(drains).toBe(1);
      // The sums only grow: mean losses near ln(10) on random labels, counts within the images.
      expect(logs[0].lossSum / 40).toBeGreaterThan(1);
      expect(logs[2].lossSum).toBeGreaterThan(logs[1].lossSum);
      expect(logs[2].correct).toBeLessThanOrEqual(96);
      expect(logs[2].lossSum).toBe(seg.lossSum);
    } finally {
      lossSum.dispose();
      correct.dispose();
      opt.dispose();
      model.dispose();
    }
  });
});
